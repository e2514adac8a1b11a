// /admin/secrets and /admin/resync through the real app on a real SQLite store: the inventory of webhook
// secrets, filters, and bad requests answered as problems. Never a value.
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const KEY = 'api-key-do-not-leak'
const VALUE = 'inventory-test-value-do-not-leak'
const TOKEN = 'adm-token-do-not-leak'
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

describe('admin API, secrets inventory', () => {
  it('lists what webhooks queued and delivered, with states and counts, filtered', async () => {
    h = await startHarness(config)
    for (const name of ['A', 'B']) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/hooks/src',
        headers: { 'x-key': KEY, 'content-type': 'application/json' },
        payload: JSON.stringify({ name, value: VALUE }),
      })
      expect(res.statusCode).toBe(202)
    }
    const [a] = await h.store.claim({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 1 })
    await h.store.settle('w', Date.now(), [{ id: a!.id, kind: 'delivered', version: 4 }])
    const all = await h.app.inject({ method: 'GET', url: '/admin/secrets', headers: auth })
    expect(all.statusCode).toBe(200)
    expect(all.json()).toMatchObject({
      secrets: [
        { vault: 'v', name: 'A', state: 'in-sync', source: 'src', sourceRef: null, written: { version: 4 } },
        { vault: 'v', name: 'B', state: 'pending', written: null },
      ],
      counts: { 'in-sync': 1, pending: 1, dead: 0, drift: 0, failing: 0, unknown: 0 },
    })
    expect(all.body).not.toContain(VALUE)
    const pending = await h.app.inject({ method: 'GET', url: '/admin/secrets?state=pending', headers: auth })
    expect(pending.json().secrets.map((s: { name: string }) => s.name)).toEqual(['B'])
    // a failed try makes it failing, with the reason; giving up makes it dead
    const [b] = await h.store.claim({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 1 })
    await h.store.settle('w', Date.now(), [
      { id: b!.id, kind: 'retry', at: Date.now(), error: 'RWX answered 503', countAttempt: true },
    ])
    const failing = await h.app.inject({ method: 'GET', url: '/admin/secrets?state=failing', headers: auth })
    expect(failing.json().secrets).toMatchObject([
      { name: 'B', state: 'failing', lastError: 'RWX answered 503', pendingSince: expect.any(String) },
    ])
    const [again] = await h.store.claim({ owner: 'w', now: Date.now() + 1, leaseMs: 60_000, limit: 1 })
    await h.store.settle('w', Date.now(), [{ id: again!.id, kind: 'dead', error: 'RWX refused it' }])
    const dead = await h.app.inject({ method: 'GET', url: '/admin/secrets?state=dead', headers: auth })
    expect(dead.json().secrets).toMatchObject([{ name: 'B', state: 'dead', lastError: 'RWX refused it' }])
    const none = await h.app.inject({ method: 'GET', url: '/admin/secrets?source=other', headers: auth })
    expect(none.json().secrets).toEqual([])
  })

  it('answers bad requests as problems, and resync 404 when no source reconciles', async () => {
    h = await startHarness(config)
    const noAuth = await h.app.inject({ method: 'GET', url: '/admin/secrets' })
    expect(noAuth.statusCode).toBe(401)
    const badState = await h.app.inject({ method: 'GET', url: '/admin/secrets?state=lost', headers: auth })
    expect(badState.statusCode).toBe(400)
    expect(badState.headers['content-type']).toContain('application/problem+json')
    const badNames = await h.app.inject({
      method: 'POST',
      url: '/admin/resync',
      headers: auth,
      payload: { secrets: ['no-slash'] },
    })
    expect(badNames.statusCode).toBe(400)
    const badForce = await h.app.inject({
      method: 'POST',
      url: '/admin/resync',
      headers: auth,
      payload: { force: 'yes' },
    })
    expect(badForce.statusCode).toBe(400)
    const none = await h.app.inject({ method: 'POST', url: '/admin/resync', headers: auth, payload: {} })
    expect(none.statusCode).toBe(404)
    expect(none.json().detail).toContain('no source reconciles')
  })
})
