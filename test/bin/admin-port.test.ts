// server.adminPort through the real binary: two listeners, metrics and admin only on the second, both closed on SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelayProcess } from '../support/relay-process.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const config = `
rwx: { url: "http://127.0.0.1:9" }
store: sqlite:./relay.db
server: { adminPort: 0 }
admin: { token: adm-token-bin }
sources:
  - id: ci
    verify: { type: api-key, header: x-key, keys: ["k"] }
`

describe('vault-relay serve with server.adminPort', () => {
  it('listens on both ports: webhooks on one, metrics and admin on the other (loopback), and closes both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-admin-port-'))
    dirs.push(dir)
    const relay = await startRelayProcess(dir, config, { RWX_ACCESS_TOKEN: 'rwx-token-admin-port' })
    try {
      expect(relay.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(relay.adminUrl).not.toBe(relay.url)
      const auth = { authorization: 'Bearer adm-token-bin' }
      expect((await fetch(`${relay.url}/metrics`)).status).toBe(404)
      expect((await fetch(`${relay.url}/admin/status`, { headers: auth })).status).toBe(404)
      expect((await fetch(`${relay.url}/readyz`)).status).toBe(200)
      const hook = await fetch(`${relay.url}/hooks/ci`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-key': 'k' },
        body: '{}',
      })
      expect(hook.status).toBe(200)
      const metrics = await fetch(`${relay.adminUrl}/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toContain('relay_hook_requests_total{source="ci",status="200"} 1')
      expect((await fetch(`${relay.adminUrl}/admin/status`, { headers: auth })).status).toBe(200)
      expect((await fetch(`${relay.adminUrl}/healthz`)).status).toBe(200)
    } finally {
      expect(await relay.kill('SIGTERM')).toBe(0)
    }
    await expect(fetch(`${relay.adminUrl}/healthz`)).rejects.toThrow()
    expect(relay.output()).not.toContain('rwx-token-admin-port')
  })
})
