import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const SECRET = 'hmac-signing-secret-do-not-leak'
const NOW = Date.UTC(2030, 0, 1)

const config = `
rateLimit: { max: 0 }
sources:
  - id: ci
    eventTime: /at
    verify: { type: hmac, header: x-sig, secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`

let h: Harness
afterEach(async () => h?.close())

function post(payload: Record<string, unknown>) {
  const body = JSON.stringify({ name: 'db', value: 'v', ...payload })
  const sig = createHmac('sha256', SECRET).update(body).digest('hex')
  return h.app.inject({
    method: 'POST',
    url: '/hooks/ci',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-sig': sig },
  })
}

describe('event times from the future', () => {
  it('refuses an event dated beyond the clock tolerance in the future with 422 ERR_EVENT_TIME_FUTURE', async () => {
    h = await startHarness(config, { clock: () => NOW })
    // The year 275760 (the largest time JavaScript dates hold), next year, and just past the tolerance.
    for (const at of [8.64e12, '2031-01-01T00:00:00Z', NOW / 1000 + 301]) {
      const res = await post({ at })
      expect(res.statusCode).toBe(422)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ code: 'ERR_EVENT_TIME_FUTURE', status: 422 })
      expect(res.body).not.toContain(String(at))
    }
    expect((await h.store.counts()).queued).toBe(0)
  })

  it('accepts an event dated within the tolerance ahead of the clock', async () => {
    h = await startHarness(config, { clock: () => NOW })
    expect((await post({ at: NOW / 1000 + 299 })).statusCode).toBe(202)
  })
})
