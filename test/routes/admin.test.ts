import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const KEY = 'api-key-do-not-leak'
const VALUE = 'admin-test-value-do-not-leak'
const config = (admin = 'admin: { token: adm-token }') => `
${admin}
sources:
  - id: src
    verify: { type: api-key, header: x-key, keys: ["${KEY}"] }
    rules:
      - secrets: [{ vault: v, name: "{{ /name }}", value: /value }]
`
let h: Harness
afterEach(async () => h?.close())

const auth = { authorization: 'Bearer adm-token' }
async function send(name: string) {
  const res = await h.app.inject({
    method: 'POST',
    url: '/hooks/src',
    headers: { 'x-key': KEY, 'content-type': 'application/json' },
    payload: JSON.stringify({ name, value: VALUE }),
  })
  expect(res.statusCode).toBe(202)
  return res.json().event as string
}

describe('admin API', () => {
  it('is off (404) when no admin token is set', async () => {
    h = await startHarness(config(''))
    expect((await h.app.inject({ method: 'GET', url: '/admin/events', headers: auth })).statusCode).toBe(404)
  })

  it('refuses a missing or wrong token', async () => {
    h = await startHarness(config())
    expect((await h.app.inject({ method: 'GET', url: '/admin/events' })).statusCode).toBe(401)
    const wrong = await h.app.inject({
      method: 'GET',
      url: '/admin/events',
      headers: { authorization: 'Bearer x' },
    })
    expect(wrong.statusCode).toBe(401)
  })

  it('lists and shows events without ever returning a value', async () => {
    h = await startHarness(config())
    const id = await send('A')
    const list = await h.app.inject({ method: 'GET', url: '/admin/events?status=queued', headers: auth })
    expect(list.statusCode).toBe(200)
    expect(list.json().events.map((e: { event: string }) => e.event)).toEqual([id])
    const one = await h.app.inject({ method: 'GET', url: `/admin/events/src/${id}`, headers: auth })
    expect(one.json().secrets[0]).toMatchObject({
      vault: 'v',
      name: 'A',
      status: 'queued',
      valueFrom: 'payload',
    })
    expect(one.json().secrets[0].fingerprint).toEqual(expect.any(String))
    for (const body of [list.body, one.body]) {
      expect(body).not.toContain(VALUE)
      expect(body).not.toContain(KEY)
    }
  })

  it('discards queued secrets and retries make them due', async () => {
    h = await startHarness(config())
    const id = await send('B')
    const retry = await h.app.inject({ method: 'POST', url: `/admin/events/src/${id}/retry`, headers: auth })
    expect(retry.json()).toEqual({ event: id, queued: 1 })
    const discard = await h.app.inject({
      method: 'POST',
      url: `/admin/events/src/${id}/discard`,
      headers: auth,
    })
    expect(discard.json()).toEqual({ event: id, discarded: 1 })
    expect((await h.store.counts()).discarded).toBe(1)
    const missing = await h.app.inject({ method: 'POST', url: '/admin/events/src/nope/retry', headers: auth })
    expect(missing.statusCode).toBe(404)
  })

  it('discards a dead secret, and says when a second discard changed nothing', async () => {
    h = await startHarness(config())
    const id = await send('D')
    const now = Date.now()
    const [c] = await h.store.claim({ owner: 'w1', now, leaseMs: 30_000, limit: 10 })
    await h.store.settle('w1', now, [{ id: c!.id, kind: 'dead', error: 'RWX refused it' }])
    const url = `/admin/events/src/${id}/discard`
    const first = await h.app.inject({ method: 'POST', url, headers: auth })
    expect(first.json()).toEqual({ event: id, discarded: 1 })
    expect(await h.store.counts()).toMatchObject({ dead: 0, discarded: 1 })
    const again = await h.app.inject({ method: 'POST', url, headers: auth })
    expect(again.json()).toEqual({ event: id, discarded: 0 })
  })

  it('answers 400 for a bad filter', async () => {
    h = await startHarness(config())
    const res = await h.app.inject({ method: 'GET', url: '/admin/events?status=weird', headers: auth })
    expect(res.statusCode).toBe(400)
  })
})

describe('admin API, operations', () => {
  it('pauses and resumes delivery: the store keeps it, /readyz and relay_paused say so', async () => {
    h = await startHarness(config())
    expect((await h.app.inject({ method: 'POST', url: '/admin/pause' })).statusCode).toBe(401)
    const paused = await h.app.inject({
      method: 'POST',
      url: '/admin/pause',
      headers: auth,
      payload: { reason: 'RWX maintenance' },
    })
    expect(paused.statusCode).toBe(200)
    expect(paused.json()).toMatchObject({ paused: true, reason: 'RWX maintenance' })
    expect(await h.store.getControl()).toMatchObject({ paused: true, reason: 'RWX maintenance' })
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'paused', paused: true })
    expect((await h.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^relay_paused 1$/m)
    // ingest goes on while paused
    await send('P')
    const status = await h.app.inject({ method: 'GET', url: '/admin/status', headers: auth })
    expect(status.json()).toMatchObject({ paused: true, queue: { queued: 1 }, outsideChanges: { total: 0 } })
    const before = h.notified
    const resumed = await h.app.inject({ method: 'POST', url: '/admin/resume', headers: auth })
    expect(resumed.json()).toEqual({ paused: false, changedAt: expect.any(String), reason: null })
    expect(h.notified).toBe(before + 1)
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready' })
    expect((await h.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^relay_paused 0$/m)
  })

  it('refuses a pause reason that is not a short string', async () => {
    h = await startHarness(config())
    const res = await h.app.inject({
      method: 'POST',
      url: '/admin/pause',
      headers: auth,
      payload: { reason: 7 },
    })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect((await h.store.getControl()).paused).toBe(false)
  })

  it('shows provenance: verifier, which key matched (never the key), rule, attempts and read-back', async () => {
    h = await startHarness(config())
    const id = await send('A')
    const [secret] = (await h.store.getEvent('src', id))?.secrets ?? []
    const lease = { owner: 'w1', leaseMs: 60_000, limit: 10 }
    await h.store.claim({ ...lease, now: Date.now() })
    await h.store.settle(
      'w1',
      Date.now(),
      [{ id: secret!.id, kind: 'retry', at: 0, error: 'down', countAttempt: false }],
      [{ secretId: secret!.id, at: 1, outcome: 'retry', status: '503', version: null, error: 'down' }],
    )
    await h.store.claim({ ...lease, now: Date.now() })
    await h.store.settle(
      'w1',
      Date.now(),
      [{ id: secret!.id, kind: 'delivered', version: 3 }],
      [{ secretId: secret!.id, at: 3, outcome: 'read-back', status: '200', version: 3, error: null }],
    )
    const one = await h.app.inject({ method: 'GET', url: `/admin/events/src/${id}`, headers: auth })
    const body = one.json()
    expect(body.provenance).toEqual({ receivedAt: body.receivedAt, verifier: 'api-key', keyId: 'keys[0]' })
    expect(body.secrets[0]).toMatchObject({
      rule: 'rules[0].secrets[0]',
      status: 'delivered',
      attempts: 1,
      readBack: { version: 3, outsideChange: false },
    })
    expect(body.secrets[0].history.map((a: { outcome: string }) => a.outcome)).toEqual([
      'retry',
      'delivered',
      'read-back',
    ])
    expect(one.body).not.toContain(KEY)
    expect(one.body).not.toContain(VALUE)
  })
})

describe('RWX circuit breaker, as reported', () => {
  it('shows an open breaker in /readyz (degraded, still 200), relay_rwx_breaker_open and /admin/status', async () => {
    const breaker = { state: 'open' as const, failures: 4, openedAt: 1_000, nextProbeAt: 5_000 }
    h = await startHarness(config(), { status: () => ({ authFailing: false, paused: false, breaker }) })
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'degraded', rwx: { breaker: 'open' } })
    expect((await h.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(
      /^relay_rwx_breaker_open 1$/m,
    )
    const status = await h.app.inject({ method: 'GET', url: '/admin/status', headers: auth })
    expect(status.json().breaker).toEqual({
      state: 'open',
      failures: 4,
      openedAt: new Date(1_000).toISOString(),
      nextProbeAt: new Date(5_000).toISOString(),
    })
  })
})
