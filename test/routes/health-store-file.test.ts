// A SQLite file deleted or replaced under a running relay: from then on hooks and /readyz answer 503, so
// nothing is accepted into a file that a restart would no longer find.
import { createHmac } from 'node:crypto'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const SECRET = 'hmac-signing-secret'

const config = `
rateLimit: { max: 0 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`

let h: Harness
afterEach(async () => h?.close())

function post(name: string) {
  const body = JSON.stringify({ name, value: `value-of-${name}` })
  return h.app.inject({
    method: 'POST',
    url: '/hooks/ci',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-sig': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  })
}

async function expectUnavailable(name: string) {
  const res = await post(name)
  expect(res.statusCode).toBe(503)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
  expect(res.json()).toMatchObject({ status: 503, code: 'ERR_STORE_UNAVAILABLE' })
  const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
  expect(ready.statusCode).toBe(503)
  expect(ready.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
}

describe('the SQLite file under a running relay', () => {
  it('deleted: events get 503 (not 202) and /readyz 503, and the log says why', async () => {
    h = await startHarness(config)
    expect((await post('BEFORE')).statusCode).toBe(202)
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    rmSync(join(h.dir, 'relay.db'))
    await expectUnavailable('AFTER')
    expect(h.logs()).toMatch(/queue database file was deleted or replaced/)
    // a file back at the path is not the open one either: still refused until a restart
    writeFileSync(join(h.dir, 'relay.db'), '')
    await expectUnavailable('LATER')
    // what was accepted before is still in the open file: the worker can still deliver it
    const claimed = await h.store.claim({ owner: 'w', now: Date.now() + 1000, leaseMs: 30_000, limit: 10 })
    expect(claimed.map((c) => c.name)).toEqual(['BEFORE'])
  })

  it('replaced by another file (a restore, a mv): events get 503 and /readyz 503', async () => {
    h = await startHarness(config)
    expect((await post('BEFORE')).statusCode).toBe(202)
    const other = join(h.dir, 'other.db')
    writeFileSync(other, '')
    renameSync(other, join(h.dir, 'relay.db'))
    await expectUnavailable('AFTER')
  })
})
