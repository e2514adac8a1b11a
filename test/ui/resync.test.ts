// The console's resync through the real app on a real SQLite store, with a stand-in reconciler: a source of
// Vault prefixes only (nothing declared before its first listing) is offered and resynced, as /admin/resync does.
import { afterEach, describe, expect, it } from 'vitest'
import type { ReconcileHandle } from '../../src/reconcile/inventory.js'
import { type Harness, startHarness } from '../support/app-harness.js'

const TOKEN = 'console-token-do-not-leak'
const config = `
admin: { token: ${TOKEN} }
sources:
  - id: hooks
    verify: { type: api-key, header: x-key, keys: ["console-key-do-not-leak"] }
    rules: [{ secrets: [{ vault: v, name: "{{ /name }}", value: /value }] }]
`

let h: Harness
afterEach(async () => h?.close())

/** Logs in by the form; returns the cookies to send and a CSRF token for the session's forms. */
async function login(app: Harness['app']): Promise<{ cookie: string; csrf: string }> {
  const form = await app.inject({ url: '/ui/login' })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? ''
  const jar = new Map(form.cookies.map((c) => [c.name, c.value]))
  const res = await app.inject({
    method: 'POST',
    url: '/ui/login',
    headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    payload: { _csrf: csrf, token: TOKEN },
  })
  expect(res.statusCode).toBe(303)
  for (const c of res.cookies) jar.set(c.name, c.value)
  return { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), csrf }
}

describe('console resync', () => {
  it('offers and resyncs a reconciling source that declares nothing yet', async () => {
    const asked: unknown[] = []
    const reconcile: ReconcileHandle = {
      declared: [],
      sources: ['prefixes-only'],
      async resync(request) {
        asked.push(request)
        return { secrets: [], unknown: [] }
      },
    }
    h = await startHarness(config, { reconcile })
    const { cookie, csrf } = await login(h.app)
    const page = await h.app.inject({ url: '/ui/secrets', headers: { cookie } })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<option value="prefixes-only">prefixes-only</option>')
    const res = await h.app.inject({
      method: 'POST',
      url: '/ui/actions/resync',
      headers: { cookie },
      payload: { _csrf: csrf, source: 'prefixes-only', confirm: 'yes' },
    })
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe('/ui/secrets?source=prefixes-only')
    expect(asked).toEqual([{ source: 'prefixes-only', names: [] }])
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/ui/actions/resync',
      headers: { cookie },
      payload: { _csrf: csrf, source: 'hooks', confirm: 'yes' },
    })
    expect(unknown.statusCode).toBe(404)
    expect(asked).toHaveLength(1)
    expect(page.body + res.body + unknown.body).not.toContain(TOKEN)
  })
})
