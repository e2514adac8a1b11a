// End to end through the real process: a pull-only source (no webhook) reconciles Vault KV v2 versions, a
// database static role and every secret under a KV prefix from the Vault stand-in (Kubernetes auth) into RWX, newest first.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeRwx } from '../support/fake-rwx.js'
import type { FakeVault } from '../support/fake-vault.js'
import type { RelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'
import { startVaultRelay, type VaultRelay } from '../support/vault-relay.js'

const ADMIN = `admin-${randomUUID()}`
/** Every value the stand-in held, and every admin answer, for the leak check at the end. */
const values: string[] = []
const answers: string[] = []
const remember = (value: string) => {
  values.push(value)
  return value
}

const CONFIG = `
rwx: { url: "\${RWX_API_URL}" }
store: sqlite:./data/relay.db
logLevel: trace
admin: { token: "\${RELAY_ADMIN_TOKEN}" }
delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5 }
vault:
  address: "\${VAULT_ADDR}"
  auth: { method: kubernetes, role: vault-relay, tokenFile: ./sa-token }
sources:
  - id: vault-pull
    reconcile:
      every: 1s
      jitter: 0
      secrets:
        - { vault: production, name: BILLING_DB_PASSWORD, value: { vaultKv: { mount: secret, path: apps/billing/db, key: password } } }
        - { vault: production, name: DB_USER, value: { vaultDatabase: { role: billing-app, key: username } } }
        - { vault: production, name: DB_PASSWORD, value: { vaultDatabase: { role: billing-app, key: password } } }
  - id: vault-teams
    reconcile:
      every: 1s
      jitter: 0
      vaultPrefixes:
        - { prefix: teams/, key: token, vault: team }
`

let site: VaultRelay
let vault: FakeVault
let rwx: FakeRwx
let relay: RelayProcess

beforeAll(async () => {
  site = await startVaultRelay({
    config: CONFIG,
    env: { RELAY_ADMIN_TOKEN: ADMIN },
    seed: (v) => {
      v.put('apps/billing/db', { password: remember(`kv-pw-${randomUUID()}`) })
      v.rotate('billing-app', 'billing_app', remember(`db-pw-${randomUUID()}`))
      v.put('teams/alpha/api', { token: remember(`team-${randomUUID()}`) })
      v.put('teams/bad.name', { token: remember(`team-${randomUUID()}`) })
    },
  })
  ;({ vault, rwx, relay } = site)
}, 30_000)
afterAll(() => site?.close())

interface Entry {
  vault: string
  name: string
  state: string
  source: string | null
  sourceVersion: string | null
}

async function inventory(): Promise<Entry[]> {
  const res = await fetch(`${relay.url}/admin/secrets`, { headers: { authorization: `Bearer ${ADMIN}` } })
  const text = await res.text()
  answers.push(text)
  expect(res.status, text).toBe(200)
  return (JSON.parse(text) as { secrets: Entry[] }).secrets
}

/** The values RWX got for `name`, in the order written. */
const writesTo = (name: string) => rwx.writes.filter((w) => w.name === name).map((w) => w.secret)

describe('Vault reconciliation end to end (real process, pull-only source, Vault stand-in)', () => {
  it('the first sweep delivers the current KV version and the current database rotation', async () => {
    await site.arrives('BILLING_DB_PASSWORD', values[0]!)
    await site.arrives('DB_PASSWORD', values[1]!)
    await site.arrives('DB_USER', 'billing_app')
    expect(vault.calls.filter((c) => c.path === 'auth/kubernetes/login')).toHaveLength(1)
    // pull-only: no webhook route
    expect((await fetch(`${relay.url}/hooks/vault-pull`, { method: 'POST', body: '{}' })).status).toBe(404)
  })

  it('a new KV version arrives within a sweep, and an older one is never written after a newer', async () => {
    const v2 = remember(`kv-pw-${randomUUID()}`)
    expect(vault.put('apps/billing/db', { password: v2 })).toBe(2)
    await site.arrives('BILLING_DB_PASSWORD', v2)
    // Two versions between sweeps: the newest is written; the one before it may be, but never after it.
    const v3 = remember(`kv-pw-${randomUUID()}`)
    const v4 = remember(`kv-pw-${randomUUID()}`)
    vault.put('apps/billing/db', { password: v3 })
    expect(vault.put('apps/billing/db', { password: v4 })).toBe(4)
    await site.arrives('BILLING_DB_PASSWORD', v4)
    const order = writesTo('BILLING_DB_PASSWORD').map((v) => values.indexOf(v))
    expect(order).toEqual([...order].sort((a, b) => a - b))
    expect(order[0]).toBe(0)
    expect(order.at(-1)).toBe(values.indexOf(v4))
    await until(
      async () => (await inventory()).find((e) => e.name === 'BILLING_DB_PASSWORD')?.sourceVersion === '4',
      'the inventory to show KV version 4',
    )
  })

  it('a database static role rotation arrives: the new password, the same user', async () => {
    const rotated = remember(`db-pw-${randomUUID()}`)
    const rotation = vault.rotate('billing-app', 'billing_app', rotated)
    await site.arrives('DB_PASSWORD', rotated)
    expect(writesTo('DB_PASSWORD').map((v) => values.indexOf(v))).toEqual([1, values.indexOf(rotated)])
    expect(rwx.secrets('production').get('DB_USER')?.secret).toBe('billing_app')
    await until(async () => {
      const e = (await inventory()).find((x) => x.name === 'DB_PASSWORD')
      return e?.state === 'in-sync' && e.sourceVersion === rotation
    }, 'DB_PASSWORD in sync at the new rotation')
  })

  it('GET /admin/secrets shows every declared secret in sync with its source version', async () => {
    await until(async () => (await inventory()).every((e) => e.state === 'in-sync'), 'every secret in sync')
    const entries = (await inventory()).filter((e) => e.vault === 'production')
    expect(entries.map((e) => [e.name, e.state, e.source])).toEqual([
      ['BILLING_DB_PASSWORD', 'in-sync', 'vault-pull'],
      ['DB_PASSWORD', 'in-sync', 'vault-pull'],
      ['DB_USER', 'in-sync', 'vault-pull'],
    ])
    const byName = new Map(entries.map((e) => [e.name, e.sourceVersion]))
    expect(byName.get('BILLING_DB_PASSWORD')).toBe('4')
    expect(byName.get('DB_PASSWORD')).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/)
    expect(byName.get('DB_USER')).toBe(byName.get('DB_PASSWORD'))
  })

  it('every secret under a prefix arrives, one written there later too; a name RWX refuses is skipped', async () => {
    await site.arrives('ALPHA_API', values[2]!, 'team')
    const beta = remember(`team-${randomUUID()}`)
    vault.put('teams/beta/api', { token: beta })
    await site.arrives('BETA_API', beta, 'team')
    await until(async () => {
      const team = (await inventory()).filter((e) => e.vault === 'team')
      return team.map((e) => `${e.name}:${e.state}`).join() === 'ALPHA_API:in-sync,BETA_API:in-sync'
    }, 'both team secrets in sync in the inventory')
    expect(rwx.writes.filter((w) => w.vault === 'team').map((w) => w.name)).toEqual(['ALPHA_API', 'BETA_API'])
    // a source of prefixes only: resync lists it again and reads both
    const res = await fetch(`${relay.url}/admin/resync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'vault-teams' }),
    })
    const text = await res.text()
    answers.push(text)
    expect(res.status, text).toBe(200)
    expect((JSON.parse(text) as { secrets: Entry[] }).secrets.map((e) => e.name)).toEqual([
      'ALPHA_API',
      'BETA_API',
    ])
    const skipped = relay
      .output()
      .split('\n')
      .filter((l) => l.includes('skipped a listed Vault secret'))
    expect(skipped).toHaveLength(1)
    expect(skipped[0]).toContain('teams/bad.name')
  })

  it('no value, Vault token or service-account token in the output, the store files or admin answers', () => {
    const files = site.storeFiles()
    expect(files.length).toBeGreaterThan(0)
    const output = relay.output()
    expect(output).toContain('logged in to Vault')
    expect(output).toContain('reconcile: the source is newer, queued its version')
    for (const secret of [...values, site.jwt, rwx.token]) {
      expect(output).not.toContain(secret)
      for (const file of files) expect(file).not.toContain(secret)
      for (const answer of answers) expect(answer).not.toContain(secret)
    }
    for (const text of [output, ...files, ...answers]) expect(text).not.toMatch(/hvs\./)
  })
})
