// End to end through the real process: with `vault.events` on and sweeps an hour apart, a KV write pushed by the
// Vault stand-in's event notifications (WebSocket, CloudEvents JSON) reaches RWX at once, listed or under a prefix.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeRwx } from '../support/fake-rwx.js'
import type { FakeVault } from '../support/fake-vault.js'
import type { RelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'
import { startVaultRelay, type VaultRelay } from '../support/vault-relay.js'

const values: string[] = []
const remember = (value: string) => {
  values.push(value)
  return value
}

const CONFIG = `
rwx: { url: "\${RWX_API_URL}" }
store: sqlite:./data/relay.db
logLevel: debug
delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5 }
vault:
  address: "\${VAULT_ADDR}"
  auth: { method: kubernetes, role: vault-relay, tokenFile: ./sa-token }
  events: { enabled: true }
sources:
  - id: vault-pull
    reconcile:
      every: 1h
      jitter: 0
      secrets:
        - { vault: production, name: BILLING_DB_PASSWORD, value: { vaultKv: { mount: secret, path: apps/billing/db, key: password } } }
  - id: vault-teams
    reconcile:
      every: 1h
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
    seed: (v) => {
      v.put('apps/billing/db', { password: remember(`kv-pw-${randomUUID()}`) })
      v.put('teams/alpha/api', { token: remember(`team-${randomUUID()}`) })
    },
  })
  ;({ vault, rwx, relay } = site)
}, 30_000)
afterAll(() => site?.close())

describe('Vault event notifications as a push trigger (real process, sweeps an hour apart)', () => {
  it('the first sweep delivers the current versions, and the relay subscribes once', async () => {
    await site.arrives('BILLING_DB_PASSWORD', values[0]!)
    await site.arrives('ALPHA_API', values[1]!, 'team')
    await until(() => vault.subscribers() === 1, 'the relay to subscribe to KV write events')
    expect(vault.calls.filter((c) => c.path === 'sys/events/subscribe/kv-v2/data-write')).toHaveLength(1)
  })

  it('a new KV version of a listed secret arrives at once: its event resyncs the source', async () => {
    const v2 = remember(`kv-pw-${randomUUID()}`)
    expect(vault.put('apps/billing/db', { password: v2 })).toBe(2)
    await site.arrives('BILLING_DB_PASSWORD', v2)
    expect(relay.output()).toContain('Vault event: resynced the source')
  })

  it('a secret written under a prefix later arrives at once too; a write elsewhere resyncs nothing', async () => {
    const writes = rwx.writes.length
    vault.put('elsewhere/app', { token: remember(`other-${randomUUID()}`) })
    const beta = remember(`team-${randomUUID()}`)
    vault.put('teams/beta/api', { token: beta })
    await site.arrives('BETA_API', beta, 'team')
    expect(rwx.writes.slice(writes).map((w) => w.name)).toEqual(['BETA_API'])
    expect(relay.output()).toContain('Vault event: no reconciled secret there')
  })

  it('a dropped subscription is made again, and events after it still arrive', async () => {
    vault.dropSubscribers()
    await until(() => vault.subscribers() === 1, 'the relay to subscribe again')
    const v3 = remember(`kv-pw-${randomUUID()}`)
    vault.put('apps/billing/db', { password: v3 })
    await site.arrives('BILLING_DB_PASSWORD', v3)
  })

  it('no value, Vault token or service-account token in the output', () => {
    const output = relay.output()
    for (const secret of [...values, site.jwt, rwx.token]) expect(output).not.toContain(secret)
    expect(output).not.toMatch(/hvs\./)
  })
})
