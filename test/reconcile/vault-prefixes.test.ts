// Vault prefixes against real parts (SQLite, the Vault resolver on the stand-in): each listed secret is
// declared and queued, a path added later is found by the next sweep, a failed LIST drops nothing, and a
// path whose name RWX would refuse is skipped and logged once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/load.js'
import { parseConfig } from '../../src/load-config.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { createReconciler, type Reconciler } from '../../src/reconcile/reconciler.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { until } from '../support/until.js'
import { type TestResolver, vaultResolverFor } from '../support/vault-resolver.js'

let vault: FakeVault
let test: TestResolver
let store: SqliteStore
let dir: string
let reconciler: Reconciler
let logs = ''
const sweeps: string[] = []

const CONFIG = `vault: { address: "http://127.0.0.1:1", auth: { method: token, tokenFile: ./t } }
sources:
  - id: pull
    reconcile:
      every: 1s
      jitter: 0
      secrets:
        - { vault: ci, name: STATIC, value: { vaultKv: { path: other/x, key: password } } }
      vaultPrefixes:
        - { prefix: apps/, key: password, vault: ci }
`

beforeAll(async () => {
  vault = await startFakeVault()
  dir = mkdtempSync(join(tmpdir(), 'relay-vault-prefixes-'))
  writeFileSync(join(dir, 'token'), vault.staticToken())
  test = vaultResolverFor(vault, { method: 'token', tokenFile: join(dir, 'token') })
  store = createSqliteStore({ path: join(dir, 'relay.db') })
  vault.put('other/x', { password: 'pw-static' })
  vault.put('apps/billing/db', { password: 'pw-billing' })
  vault.put('apps/web-api', { password: 'pw-web' })
  vault.put('apps/bad.name', { password: 'pw-bad' })
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs += String(chunk)
      done()
    },
  })
  reconciler = createReconciler({
    sources: parseConfig(CONFIG, {}).sources,
    store,
    resolver: test.resolver,
    rwx: { getSecret: async () => ({ kind: 'failed', reason: 'not asked in this test' }) },
    clock: Date.now,
    log: pino({ level: 'info' }, sink),
    owner: 'test',
    events: { onSweep: (_source, outcome) => sweeps.push(outcome) },
  })
})
afterAll(async () => {
  await reconciler?.stop()
  test?.resolver.close()
  await store?.close()
  await vault?.close()
  rmSync(dir, { recursive: true, force: true })
})

const names = () => reconciler.declared.map((d) => `${d.vault}/${d.name}`).sort()

/** The value each queued secret resolves to at delivery, by name. */
async function queuedValues(): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const claim of await store.claim({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 50 })) {
    const resolved = await test.resolver.resolve(claim.ref!)
    out.set(claim.name, resolved.kind === 'value' ? resolved.value : resolved.kind)
  }
  return out
}

describe('reconcile.vaultPrefixes', () => {
  it('declares and queues each secret listed under the prefix beside the static ones; skips a bad name once', async () => {
    expect(names()).toEqual(['ci/STATIC'])
    expect(reconciler.sources).toEqual(['pull'])
    const done = await reconciler.resync({})
    expect(done.secrets.map((s) => [s.name, s.outcome]).sort()).toEqual([
      ['BILLING_DB', 'queued'],
      ['STATIC', 'queued'],
      ['WEB-API', 'queued'],
    ])
    expect(names()).toEqual(['ci/BILLING_DB', 'ci/STATIC', 'ci/WEB-API'])
    expect(reconciler.declared.find((d) => d.name === 'BILLING_DB')).toMatchObject({
      path: 'reconcile.vaultPrefixes[0]',
      ref: { store: 'vault', engine: 'kv', mount: 'secret', path: 'apps/billing/db', key: 'password' },
    })
    expect(await queuedValues()).toEqual(
      new Map([
        ['BILLING_DB', 'pw-billing'],
        ['STATIC', 'pw-static'],
        ['WEB-API', 'pw-web'],
      ]),
    )
    await reconciler.resync({})
    const skipped = logs.split('\n').filter((l) => l.includes('skipped a listed Vault secret'))
    expect(skipped).toHaveLength(1)
    expect(skipped[0]).toContain('apps/bad.name')
    expect(logs).not.toContain('pw-')
  })

  it('keeps what it declared when a LIST fails, and finds a path added later at the next sweep', async () => {
    vault.put('apps/new/svc', { password: 'pw-new' })
    vault.failNext(1, 503)
    reconciler.start()
    await until(async () => sweeps.length > 0, 'a first sweep')
    expect(sweeps[0]).toBe('failed')
    expect(logs).toContain('listing a Vault prefix failed')
    // nothing dropped, nothing new yet
    expect(names()).toEqual(['ci/BILLING_DB', 'ci/STATIC', 'ci/WEB-API'])
    await until(async () => names().includes('ci/NEW_SVC'), 'the next sweep to list the new path')
    await until(async () => (await store.listEvents({ source: 'pull', limit: 50 })).length === 4, 'queued')
    expect(await queuedValues()).toEqual(new Map([['NEW_SVC', 'pw-new']]))
    expect(logs).not.toContain('pw-')
  })

  it('refuses a name template that does not compile', () => {
    expect(() =>
      parseConfig(CONFIG.replace('vault: ci }', 'vault: ci, name: "{{ /name | nope }}" }'), {}),
    ).toThrow(ConfigError)
    expect(() =>
      parseConfig(CONFIG.replace('vault: ci }', 'vault: ci, name: "{{ /name | nope }}" }'), {}),
    ).toThrow(/vaultPrefixes\[0\]\.name.*unknown filter/)
  })
})
