// /admin/names: a name's never-regress state and its reset, through the real app on a real SQLite store.
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const KEY = 'api-key-do-not-leak'
const VALUE = 'names-test-value-do-not-leak'
const TOKEN = 'adm-token-do-not-leak'
const NOW = 1_800_000_000_000
const config = `
admin: { token: ${TOKEN} }
sources:
  - id: src
    verify: { type: api-key, header: x-key, keys: ["${KEY}"] }
    rules:
      - secrets: [{ vault: v, name: "{{ /name }}", value: /value }]
`
let h: Harness
afterEach(async () => h?.close())

const auth = { authorization: `Bearer ${TOKEN}` }

/** Queues a value of `name` (api-key events are dated at receipt: NOW) and returns the event id. */
async function send(name: string): Promise<string> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/hooks/src',
    headers: { 'x-key': KEY, 'content-type': 'application/json' },
    payload: JSON.stringify({ name, value: VALUE }),
  })
  expect(res.statusCode).toBe(202)
  return res.json().event as string
}

/** Delivers the queued value of a name as the worker would, or settles it with an unknown outcome. */
async function deliver(outcome: { version: number } | { fenceUntil: number }) {
  const [c] = await h.store.claim({ owner: 'w1', now: NOW, leaseMs: 60_000, limit: 1 })
  expect(c).toBeDefined()
  await h.store.settle('w1', NOW, [
    'version' in outcome
      ? { id: c!.id, kind: 'delivered', version: outcome.version }
      : { id: c!.id, kind: 'retry', at: NOW, error: 'timed out', countAttempt: true, ...outcome },
  ])
  return c!.id
}

function reset(url: string, payload?: Record<string, unknown>, headers: Record<string, string> = auth) {
  return h.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) })
}

describe('admin API, names', () => {
  it('needs the admin token for showing and resetting', async () => {
    h = await startHarness(config, { clock: () => NOW })
    await send('A')
    await deliver({ version: 1 })
    const shown = await h.app.inject({ method: 'GET', url: '/admin/names/v/A' })
    expect(shown.statusCode).toBe(401)
    const wrong = await reset('/admin/names/v/A/reset', { reason: 'x' }, { authorization: 'Bearer nope' })
    expect(wrong.statusCode).toBe(401)
    expect((await h.store.getName('v', 'A', NOW))?.delivered).not.toBeNull()
  })

  it('answers 404 problem+json for a name the queue does not know', async () => {
    h = await startHarness(config, { clock: () => NOW })
    for (const res of [
      await h.app.inject({ method: 'GET', url: '/admin/names/v/NOPE', headers: auth }),
      await reset('/admin/names/v/NOPE/reset', { reason: 'stuck' }),
    ]) {
      expect(res.statusCode).toBe(404)
      expect(res.headers['content-type']).toContain('application/problem+json')
    }
  })

  it('refuses a reset without a reason (422) and changes nothing', async () => {
    h = await startHarness(config, { clock: () => NOW })
    await send('A')
    await deliver({ version: 1 })
    for (const payload of [undefined, {}, { liftFence: true }, { reason: '  ' }]) {
      const res = await reset('/admin/names/v/A/reset', payload)
      expect(res.statusCode).toBe(422)
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.json()).toMatchObject({ status: 422, code: 'ERR_REASON_REQUIRED' })
    }
    expect((await reset('/admin/names/v/A/reset', { reason: 'x', liftFence: 'yes' })).statusCode).toBe(400)
    expect((await h.store.getName('v', 'A', NOW))?.delivered).not.toBeNull()
  })

  it('shows the watermark, then resets it: logged with its reason, never a value or the token', async () => {
    h = await startHarness(config, { clock: () => NOW })
    const event = await send('A')
    const id = await deliver({ version: 4 })
    const shown = await h.app.inject({ method: 'GET', url: '/admin/names/v/A', headers: auth })
    expect(shown.statusCode).toBe(200)
    const delivered = {
      eventTime: new Date(NOW).toISOString(),
      eventTimeMs: NOW,
      secretId: id,
      source: 'src',
      event,
      rwxVersion: 4,
      at: new Date(NOW).toISOString(),
    }
    expect(shown.json()).toEqual({
      vault: 'v',
      name: 'A',
      delivered,
      queued: 0,
      inFlight: false,
      fencedUntil: null,
      unconfirmed: false,
      unconfirmedSince: null,
    })

    const done = await reset('/admin/names/v/A/reset', { reason: 'vendor clock ran ahead', by: 'alice' })
    expect(done.statusCode).toBe(200)
    expect(done.json()).toMatchObject({
      vault: 'v',
      name: 'A',
      reset: true,
      fenceLifted: false,
      previous: delivered,
      state: { delivered: null, queued: 0 },
    })
    const again = await reset('/admin/names/v/A/reset', { reason: 'twice' })
    expect(again.json()).toMatchObject({ reset: false, fenceLifted: false, previous: null })

    const line = h
      .logs()
      .split('\n')
      .find((l) => l.includes('admin name reset') && l.includes('vendor clock ran ahead'))
    expect(line && JSON.parse(line)).toMatchObject({ vault: 'v', name: 'A', by: 'alice', reset: true })
    for (const text of [shown.body, done.body, h.logs()]) {
      expect(text).not.toContain(VALUE)
      expect(text).not.toContain(TOKEN)
      expect(text).not.toContain(KEY)
    }
  })

  it('shows a fence and lifts it when asked, waking the worker', async () => {
    h = await startHarness(config, { clock: () => NOW })
    await send('F')
    await deliver({ fenceUntil: NOW + 60_000 })
    const shown = await h.app.inject({ method: 'GET', url: '/admin/names/v/F', headers: auth })
    expect(shown.json()).toMatchObject({
      delivered: null,
      queued: 1,
      inFlight: false,
      fencedUntil: new Date(NOW + 60_000).toISOString(),
      unconfirmed: true,
    })
    const before = h.notified
    const lifted = await reset('/admin/names/v/F/reset', {
      reason: 'the timed-out write never landed',
      liftFence: true,
    })
    expect(lifted.json()).toMatchObject({
      reset: false,
      fenceLifted: true,
      state: { fencedUntil: null, unconfirmed: true, queued: 1 },
    })
    expect(h.notified).toBe(before + 1)
    expect(await h.store.claim({ owner: 'w2', now: NOW, leaseMs: 1_000, limit: 1 })).toHaveLength(1)
  })
})
