import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const config = (server = 'server: { adminPort: 0 }') => `
${server}
admin: { token: adm-token }
sources:
  - id: src
    verify: { type: api-key, header: x-key, keys: ["k"] }
`
const auth = { authorization: 'Bearer adm-token' }

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('server.adminPort: metrics and admin on their own listener', () => {
  it('the public app answers 404 for /metrics and /admin, and still serves hooks, JWKS and probes', async () => {
    h = await startHarness(config())
    for (const url of ['/metrics', '/admin/status', '/admin/events']) {
      const res = await h.app.inject({ method: 'GET', url, headers: auth })
      expect(res.statusCode, url).toBe(404)
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/)
    }
    expect((await h.app.inject({ method: 'POST', url: '/admin/pause', headers: auth })).statusCode).toBe(404)
    const hook = await h.app.inject({
      method: 'POST',
      url: '/hooks/src',
      payload: '{}',
      headers: { 'content-type': 'application/json', 'x-key': 'k' },
    })
    expect(hook.statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
  })

  it('the admin app serves /metrics (counting the public app’s hooks), /admin and the probes, and no webhook', async () => {
    h = await startHarness(config())
    await h.app.inject({
      method: 'POST',
      url: '/hooks/src',
      payload: '{}',
      headers: { 'content-type': 'application/json', 'x-key': 'k' },
    })
    const admin = h.adminApp!
    const metrics = await admin.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.statusCode).toBe(200)
    expect(metrics.body).toContain('relay_hook_requests_total{source="src",status="200"} 1')
    expect((await admin.inject({ method: 'GET', url: '/admin/status' })).statusCode).toBe(401)
    expect((await admin.inject({ method: 'GET', url: '/admin/status', headers: auth })).json()).toMatchObject(
      {
        delivery: 'running',
      },
    )
    // The pause switch is the one both apps share: paused here, /readyz on the public port says so.
    expect((await admin.inject({ method: 'POST', url: '/admin/pause', headers: auth })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'paused' })
    expect((await admin.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await admin.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    const hook = await admin.inject({
      method: 'POST',
      url: '/hooks/src',
      payload: '{}',
      headers: { 'x-key': 'k' },
    })
    expect(hook.statusCode).toBe(404)
    expect((await admin.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode).toBe(404)
  })

  it('unset, one app serves everything, as before', async () => {
    h = await startHarness(config(''))
    expect(h.adminApp).toBeUndefined()
    expect((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/admin/status', headers: auth })).statusCode).toBe(200)
  })

  it('defaults adminHost to loopback, and refuses adminPort equal to port', async () => {
    h = await startHarness(config())
    expect(h.config.server.adminHost).toBe('127.0.0.1')
    await expect(startHarness(config('server: { port: 9000, adminPort: 9000 }'))).rejects.toThrow(
      /server\.adminPort: must differ from server\.port/,
    )
  })
})
