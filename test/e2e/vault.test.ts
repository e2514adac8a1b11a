// End to end through the real process: signed webhooks name Vault KV versions and database rotations; the
// relay logs in to the Vault stand-in (Kubernetes auth), fetches each at delivery, and never writes an older one.
import { createHmac, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeRwx } from '../support/fake-rwx.js'
import type { FakeVault } from '../support/fake-vault.js'
import type { RelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'
import { startVaultRelay, type VaultRelay } from '../support/vault-relay.js'

const HMAC_SECRET = `hmac-secret-${randomUUID()}`
const ADMIN = `admin-${randomUUID()}`
/** Every value the stand-in held, for the leak check at the end. */
const values: string[] = []
const remember = (value: string) => {
  values.push(value)
  return value
}

const CONFIG = `
rwx: { url: "\${RWX_API_URL}" }
store: sqlite:./data/relay.db
logLevel: trace
admin: { token: "\${RELAY_ADMIN_TOKEN}" }
delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, maxAttempts: 1000 }
vault:
  address: "\${VAULT_ADDR}"
  namespace: admin/platform
  auth: { method: kubernetes, role: vault-relay, tokenFile: ./sa-token }
sources:
  - id: vault-kv
    verify: { type: hmac, header: x-signature, prefix: "sha256=", secrets: ["\${HOOK_SECRET}"] }
    eventId: "{{ /id }}"
    eventTime: /time
    rules:
      - when: { /engine: kv }
        secrets:
          - vault: production
            name: "{{ /name }}"
            value: { vaultKv: { mount: secret, path: "{{ /path }}", key: password, version: "{{ /version }}" } }
      - when: { /engine: database }
        secrets:
          - { vault: production, name: DB_USER, value: { vaultDatabase: { role: "{{ /role }}", key: username } } }
          - { vault: production, name: DB_PASSWORD, value: { vaultDatabase: { role: "{{ /role }}", key: password } } }
`

let site: VaultRelay
let vault: FakeVault
let rwx: FakeRwx
let relay: RelayProcess
let clock = Date.now() - 10 * 60_000

beforeAll(async () => {
  site = await startVaultRelay({
    config: CONFIG,
    vault: { namespace: 'admin/platform' },
    env: { HOOK_SECRET: HMAC_SECRET, RELAY_ADMIN_TOKEN: ADMIN },
  })
  ;({ vault, rwx, relay } = site)
})
afterAll(() => site?.close())

/** A signed webhook; event times rise through the file (a late webhook is stamped later too). */
async function hook(fields: Record<string, unknown>): Promise<string> {
  clock += 1000
  const time = clock
  const id = `evt-${randomUUID()}`
  const body = JSON.stringify({ id, time: new Date(time).toISOString(), ...fields })
  const signature = `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`
  const res = await fetch(`${relay.url}/hooks/vault-kv`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signature },
    body,
  })
  expect(res.status).toBe(202)
  return id
}

/** Waits until every secret of the event has `status` (the admin API). */
async function settled(eventId: string, status: string): Promise<void> {
  await until(async () => {
    const res = await fetch(`${relay.url}/admin/events/vault-kv/${eventId}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    })
    if (res.status !== 200) return false
    const { secrets } = (await res.json()) as { secrets: { status: string }[] }
    return secrets.length > 0 && secrets.every((s) => s.status === status)
  }, `event ${eventId} to be ${status}`)
}

const stored = (name: string) => rwx.secrets('production').get(name)?.secret
const writesOf = (value: string) => rwx.writes.filter((w) => w.secret === value).length

describe('HashiCorp Vault / OpenBao end to end (real process, Vault stand-in)', () => {
  it('a KV v2 version named by a webhook is fetched at delivery and written', async () => {
    const pw1 = remember(`kv-pw-${randomUUID()}`)
    const version = vault.put('apps/billing/db', { password: pw1, user: 'billing' })
    const id = await hook({ engine: 'kv', name: 'BILLING_DB_PASSWORD', path: 'apps/billing/db', version })
    await settled(id, 'delivered')
    expect(stored('BILLING_DB_PASSWORD')).toBe(pw1)
    // Logged in once, in the namespace, then read metadata and the pinned version.
    expect(vault.calls.filter((c) => c.path === 'auth/kubernetes/login')).toHaveLength(1)
    expect(
      vault.calls.some((c) => c.path === 'secret/data/apps/billing/db' && c.query === '?version=1'),
    ).toBe(true)
  })

  it('an older version after a newer one is never written, even with a later event time', async () => {
    const pw2 = remember(`kv-pw-${randomUUID()}`)
    const pw3 = remember(`kv-pw-${randomUUID()}`)
    const v2 = vault.put('apps/billing/db', { password: pw2 })
    const v3 = vault.put('apps/billing/db', { password: pw3 })
    const newer = await hook({
      engine: 'kv',
      name: 'BILLING_DB_PASSWORD',
      path: 'apps/billing/db',
      version: v3,
    })
    await settled(newer, 'delivered')
    // The webhook for version 2 comes late, stamped later: the queue lets it in, Vault's versions fence it.
    const older = await hook({
      engine: 'kv',
      name: 'BILLING_DB_PASSWORD',
      path: 'apps/billing/db',
      version: v2,
    })
    await settled(older, 'superseded')
    expect(stored('BILLING_DB_PASSWORD')).toBe(pw3)
    expect(writesOf(pw2)).toBe(0)
  })

  it('a database static role rotation arrives: username and password of the current rotation', async () => {
    const first = remember(`db-pw-${randomUUID()}`)
    vault.rotate('billing-app', 'billing_app', first)
    await settled(await hook({ engine: 'database', role: 'billing-app' }), 'delivered')
    expect(stored('DB_PASSWORD')).toBe(first)
    expect(stored('DB_USER')).toBe('billing_app')
    const second = remember(`db-pw-${randomUUID()}`)
    vault.rotate('billing-app', 'billing_app', second)
    await settled(await hook({ engine: 'database', role: 'billing-app' }), 'delivered')
    expect(stored('DB_PASSWORD')).toBe(second)
  })

  it('an expired Vault token is replaced by a new login, and delivery goes on', async () => {
    const pw = remember(`kv-pw-${randomUUID()}`)
    const version = vault.put('apps/search/key', { password: pw })
    vault.expireTokens()
    const id = await hook({ engine: 'kv', name: 'SEARCH_KEY', path: 'apps/search/key', version })
    await settled(id, 'delivered')
    expect(stored('SEARCH_KEY')).toBe(pw)
    expect(vault.calls.filter((c) => c.path === 'auth/kubernetes/login')).toHaveLength(2)
  })

  it('no value, Vault token or service-account token in the relay output or its store files', () => {
    const files = site.storeFiles()
    expect(files.length).toBeGreaterThan(0)
    for (const value of values) for (const file of files) expect(file).not.toContain(value)
    const output = relay.output()
    expect(output).toContain('logged in to Vault')
    for (const value of [...values, site.jwt, rwx.token]) expect(output).not.toContain(value)
    expect(output).not.toMatch(/hvs\./)
  })
})
