// Rules with `notice`: counted per source and kind, logged, answered with `notices`, and nothing queued
// (unless a rule with secrets matched too).
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const KEY = 'notice-api-key-do-not-leak'
const config = `
rateLimit: { max: 0 }
sources:
  - id: vault-events
    verify: { type: api-key, header: x-key, keys: ["${KEY}"] }
    rules:
      - when: { /type: [near-expiry, expired] }
        notice: expiry-warning
      - when: { /type: expired }
        notice: expired
        secrets: [{ vault: ci, name: EXPIRED_AT, value: /at }]
`

let h: Harness
afterEach(async () => h?.close())

const post = (payload: unknown) =>
  h.app.inject({
    method: 'POST',
    url: '/hooks/vault-events',
    payload: JSON.stringify(payload),
    headers: { 'content-type': 'application/json', 'x-key': KEY },
  })

const metric = async () =>
  (await h.app.inject({ url: '/metrics' })).body
    .split('\n')
    .filter((l) => l.startsWith('relay_provider_notices_total{'))

describe('notice rules', () => {
  it('a notice alone: 200 with notices, counted and logged, nothing queued', async () => {
    h = await startHarness(config)
    const res = await post({ type: 'near-expiry', name: 'db' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ secrets: 0, notices: ['expiry-warning'] })
    expect(await post({ type: 'near-expiry', name: 'db' }).then((r) => r.statusCode)).toBe(200)
    expect(await metric()).toEqual([
      'relay_provider_notices_total{source="vault-events",kind="expiry-warning"} 2',
    ])
    expect(h.logs()).toMatch(/"notice":"expiry-warning".*"msg":"provider notice"/)
    expect((await h.store.counts()).queued).toBe(0)
  })

  it('a notice beside secrets: both counted, the secrets queued', async () => {
    h = await startHarness(config)
    const res = await post({ type: 'expired', at: '2030-01-01' })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toMatchObject({ secrets: 1, notices: ['expiry-warning', 'expired'] })
    expect(await metric()).toHaveLength(2)
    expect((await h.store.counts()).queued).toBe(1)
  })

  it('an event matching no rule carries no notices', async () => {
    h = await startHarness(config)
    expect((await post({ type: 'other' })).json()).toEqual({ event: expect.any(String), secrets: 0 })
    expect(await metric()).toEqual([])
  })
})
