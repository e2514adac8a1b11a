// The real binary with its SQLite file deleted under it: hooks and /readyz answer 503 from then on, and
// the log says why, instead of 202s into a file the next start would not find.

import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'

const TOKEN = `rwx-token-${randomUUID()}`
const SECRET = `hmac-${randomUUID()}`
let rwx: FakeRwx
let relay: RelayProcess | undefined
let dir = ''
beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
  dir = mkdtempSync(join(tmpdir(), 'relay-deleted-'))
})
afterAll(async () => {
  await relay?.kill('SIGKILL')
  await rwx.close()
  rmSync(dir, { recursive: true, force: true })
})

const config = () => `
rwx: { url: "${rwx.url}" }
store: sqlite:./data/relay.db
rateLimit: { max: 0 }
delivery: { batchWindowMs: 0 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`

function post(name: string): Promise<Response> {
  const body = JSON.stringify({ name, value: `value-${randomUUID()}` })
  return fetch(`${relay!.url}/hooks/ci`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sig': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  })
}

describe('vault-relay serve on SQLite', () => {
  it('answers 503 to hooks and /readyz once its database file is deleted, and logs it', async () => {
    relay = await startRelayProcess(dir, config(), {
      RWX_ACCESS_TOKEN: TOKEN,
      RELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    })
    expect((await post('BEFORE')).status).toBe(202)
    await rwx.waitFor((writes) => writes.some((w) => w.name === 'BEFORE'), 10_000)
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200)

    rmSync(join(dir, 'data', 'relay.db'))
    const refused = await post('AFTER')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await refused.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(503)
    // the log line is written by pino's asynchronous destination: wait for it, with a bound
    await until(
      () => /"msg":"the queue database file was deleted or replaced while open/.test(relay!.output()),
      'the log line naming the deleted file',
    )
    expect(rwx.writes.map((w) => w.name)).not.toContain('AFTER')
    expect(await relay.kill('SIGTERM')).toBe(0)
  })
})
