// The sweep on Vault references (SQLite store, the Vault resolver on the stand-in): a newer database rotation is
// queued pinned to its last_vault_rotation; an older one (a lagging standby's answer) is never queued.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ValueRef } from '../../src/config/schema.js'
import type { CurrentVersion } from '../../src/delivery/values.js'
import { parseConfig } from '../../src/load-config.js'
import { createLogger } from '../../src/log.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { declaredSecrets } from '../../src/reconcile/declared.js'
import { createPace } from '../../src/reconcile/pace.js'
import { olderVersion } from '../../src/reconcile/state.js'
import { type SweepDeps, sweepSecrets } from '../../src/reconcile/sweep.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { type TestResolver, vaultResolverFor } from '../support/vault-resolver.js'

let vault: FakeVault
let test: TestResolver
let store: SqliteStore
let dir: string
/** When set, `current()` answers this instead of asking the stand-in (a standby that has not caught up). */
let lagging: CurrentVersion | undefined

beforeAll(async () => {
  vault = await startFakeVault()
  dir = mkdtempSync(join(tmpdir(), 'relay-vault-sweep-'))
  writeFileSync(join(dir, 'token'), vault.staticToken())
  test = vaultResolverFor(vault, { method: 'token', tokenFile: join(dir, 'token') })
  store = createSqliteStore({ path: join(dir, 'relay.db') })
})
afterAll(async () => {
  test?.resolver.close()
  await store?.close()
  await vault?.close()
  rmSync(dir, { recursive: true, force: true })
})

const config = parseConfig(
  `vault: { address: "http://127.0.0.1:1", auth: { method: token, tokenFile: ./t } }
sources:
  - id: pull
    reconcile:
      secrets:
        - { vault: prod, name: DB_PASSWORD, value: { vaultDatabase: { role: app, key: password } } }
`,
  {},
)
const declared = declaredSecrets(config.sources[0]!)
const options = { trigger: 'reconcile', force: false, repair: false, concurrency: 1 } as const

function deps(): SweepDeps {
  return {
    store,
    resolver: {
      resolve: (ref) => test.resolver.resolve(ref),
      current: async (ref: ValueRef) => lagging ?? test.resolver.current(ref),
    },
    rwx: { getSecret: async () => ({ kind: 'failed', reason: 'not asked in this test' }) },
    paceOf: () => createPace(1000),
    clock: Date.now,
    log: createLogger('silent'),
  }
}

describe('sweeping a database static role', () => {
  it('orders rotations by last_vault_rotation (nanoseconds count), KV numbers not at all', () => {
    const ref = declared[0]!.ref
    expect(olderVersion(ref, '2026-01-01T00:00:00.000000001Z', '2026-01-01T00:00:00.000000002Z')).toBe(true)
    expect(olderVersion(ref, '2026-01-01T00:00:01Z', '2026-01-01T00:00:00.9Z')).toBe(false)
    const kv: ValueRef = { store: 'vault', engine: 'kv', mount: 'secret', path: 'a', key: 'k' }
    expect(olderVersion(kv, '1', '7')).toBe(false)
  })

  it('queues a newer rotation pinned to it, and leaves an older answer alone', async () => {
    vault.rotate('app', 'app_user', 'first-password')
    const first = await test.resolver.current(declared[0]!.ref)
    expect(first.kind).toBe('version')
    const second = vault.rotate('app', 'app_user', 'second-password')
    const [queued] = await sweepSecrets(deps(), declared, options)
    expect(queued).toMatchObject({ outcome: 'queued', version: second })
    lagging = first
    const [stale] = await sweepSecrets(deps(), declared, options)
    expect(stale).toMatchObject({ outcome: 'failed', error: expect.stringContaining('older') })
    const events = await store.listEvents({ source: 'pull', limit: 10 })
    expect(events.map((e) => e.eventId)).toEqual([`reconcile:prod/DB_PASSWORD:${second}`])
    const [facts] = await store.inventory({ vault: 'prod', name: 'DB_PASSWORD', limit: 1 })
    expect(facts?.reconcile?.sourceVersion).toBe(second)
    lagging = undefined
    const [again] = await sweepSecrets(deps(), declared, options)
    expect(again?.outcome).toBe('in-sync')
  })
})
