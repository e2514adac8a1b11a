// `vault-relay retry|discard`: an answer that changed nothing exits 1, so a script does not take it for a fix.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runAdminCommand } from '../../src/cli/admin.js'

let server: Server
let url: string
/** What the stand-in admin API answers to retry and discard. */
let counts = { queued: 0, discarded: 0 }

beforeAll(async () => {
  server = createServer((req, res) => {
    const [, event, action] = /^\/admin\/events\/s\/([^/]+)\/(retry|discard)$/.exec(req.url ?? '') ?? []
    if (req.method !== 'POST' || event === undefined) return res.writeHead(404).end()
    const body =
      action === 'retry' ? { event, queued: counts.queued } : { event, discarded: counts.discarded }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

async function run(command: 'retry' | 'discard', json = false): Promise<{ code: number; out: string }> {
  let out = ''
  const args = ['s', 'e1', '--url', url, ...(json ? ['--json'] : [])]
  const code = await runAdminCommand(command, args, { RELAY_ADMIN_TOKEN: 'adm' }, (t) => {
    out += t
  })
  return { code, out }
}

describe('vault-relay retry and discard', () => {
  it('exit 1 and say why when nothing was queued again or discarded', async () => {
    counts = { queued: 0, discarded: 0 }
    expect(await run('retry')).toEqual({
      code: 1,
      out: expect.stringMatching(
        /^event e1: nothing queued again \(a dead value is kept for delivery.keepDeadValuesSeconds, then erased/,
      ),
    })
    expect(await run('discard')).toEqual({
      code: 1,
      out: expect.stringMatching(/^event e1: nothing discarded/),
    })
    expect((await run('retry', true)).code).toBe(1)
  })

  it('exit 0 when they changed something', async () => {
    counts = { queued: 2, discarded: 1 }
    expect(await run('retry')).toEqual({ code: 0, out: 'event e1: 2 secret(s) queued' })
    expect(await run('discard')).toEqual({ code: 0, out: 'event e1: 1 secret(s) discarded' })
  })
})
