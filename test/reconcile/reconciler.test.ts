// The reconciler against real parts: a SQLite store, the AWS resolver on a local Secrets Manager, the
// RWX client on the fake RWX; resync (newer, forced), drift and repair, throttling, names not reconciled.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsResolver } from '../../src/delivery/aws-secrets.js'
import { createRwxClient, type RwxClient } from '../../src/delivery/rwx-client.js'
import type { SecretSignal } from '../../src/delivery/types.js'
import { parseConfig } from '../../src/load-config.js'
import { createLogger } from '../../src/log.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { readInventory } from '../../src/reconcile/inventory.js'
import { createReconciler, type Reconciler } from '../../src/reconcile/reconciler.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type FakeSecretsManager, startFakeSecretsManager } from '../support/fake-secrets-manager.js'
import { until } from '../support/until.js'

const ENV_KEYS = [
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
]
const saved = new Map(ENV_KEYS.map((k) => [k, process.env[k]]))
let sm: FakeSecretsManager
let rwx: FakeRwx
let client: RwxClient
let store: SqliteStore
let dir: string
let reconciler: Reconciler
let arn = ''
const signals: SecretSignal[] = []
const resolver = () => createAwsResolver()

beforeAll(async () => {
  ;[sm, rwx] = await Promise.all([startFakeSecretsManager(), startFakeRwx({ token: 'tok' })])
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url
  process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST'
  process.env.AWS_SECRET_ACCESS_KEY = 'secret-access-key'
  process.env.AWS_REGION = 'us-east-1'
  client = createRwxClient({
    url: rwx.url,
    token: () => 'tok',
    userAgent: 'test',
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
  })
})
afterAll(async () => {
  await client.close()
  await Promise.all([sm.close(), rwx.close()])
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

beforeEach(() => {
  arn = sm.create(`prod/db-${Math.random()}`, 'first-value').arn
  dir = mkdtempSync(join(tmpdir(), 'relay-reconciler-'))
  store = createSqliteStore({ path: join(dir, 'relay.db') })
  signals.length = 0
  const config = parseConfig(
    `sources:
  - id: aws
    reconcile:
      repair: true
      secrets:
        - { vault: prod, name: DB, value: { awsSecretsManager: { secretId: "${arn}" } } }
`,
    {},
  )
  reconciler = createReconciler({
    sources: config.sources,
    store,
    resolver: resolver(),
    rwx: client,
    clock: Date.now,
    log: createLogger('silent'),
    owner: 'test',
    events: { onSignal: (s) => signals.push(s) },
  })
})
afterEach(async () => {
  await reconciler.stop()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Delivers the queued secret as the worker would, at RWX `version`. */
async function deliver(version: number) {
  const [c] = await store.claim({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 10 })
  expect(c).toBeDefined()
  await store.settle('w', Date.now(), [{ id: c!.id, kind: 'delivered', version }])
}

describe('reconciler', () => {
  it('queues the current version once, then finds it in sync; force queues it again', async () => {
    const first = await reconciler.resync({})
    expect(first.secrets).toMatchObject([{ vault: 'prod', name: 'DB', outcome: 'queued' }])
    expect((await readInventory(store, reconciler.declared))[0]).toMatchObject({ state: 'pending' })
    // queued already: the next look queues nothing new
    expect((await reconciler.resync({})).secrets[0]?.outcome).not.toBe('queued')
    rwx.alter('prod', 'DB', null)
    await deliver(1)
    // RWX holds nothing yet (the fake was not written): drift, repaired
    const drifted = await reconciler.resync({})
    expect(drifted.secrets[0]?.outcome).toBe('repair')
    expect(signals).toMatchObject([{ kind: 'drift', vault: 'prod', name: 'DB', written: 1, readBack: null }])
    const forced = await reconciler.resync({ force: true, names: [{ vault: 'prod', name: 'DB' }] })
    expect(forced.secrets[0]?.outcome).toBe('queued')
    const events = await store.listEvents({ source: 'aws', limit: 10 })
    expect(events.map((e) => e.eventId.split(':')[0]).sort()).toEqual(['reconcile', 'repair', 'resync'])
  })

  it('finds a newer version after a rotation and says which names it does not reconcile', async () => {
    await reconciler.resync({})
    await deliver(1)
    const next = sm.putPending(arn, 'second-value')
    sm.promote(arn, next)
    const done = await reconciler.resync({
      names: [
        { vault: 'prod', name: 'DB' },
        { vault: 'x', name: 'Y' },
      ],
    })
    expect(done.secrets).toMatchObject([{ outcome: 'queued', version: next }])
    expect(done.unknown).toEqual([{ vault: 'x', name: 'Y' }])
  })

  it('tries a throttled read again, and records a read that keeps failing', async () => {
    sm.failNext(1, 'ThrottlingException')
    expect((await reconciler.resync({})).secrets[0]?.outcome).toBe('queued')
    sm.failNext(3, 'ThrottlingException')
    const failed = await reconciler.resync({ force: true })
    expect(failed.secrets[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('throttling'),
    })
    const [entry] = await readInventory(store, reconciler.declared)
    expect(entry?.lastReconcile).toMatchObject({ outcome: 'failed' })
  })

  it('sweeps on its own once started, under the store lease', async () => {
    reconciler.start()
    await until(
      async () => (await store.sweeps()).length > 0 && (await store.listEvents({ limit: 1 })).length > 0,
      'a sweep that queued the current version',
    )
    const [sweep] = await store.sweeps()
    expect(sweep).toMatchObject({ source: 'aws' })
    expect(await store.claimSweep('aws', 'other', Date.now(), 60_000)).toMatchObject({ claimed: false })
  })
})

describe('reconciler with webhooks', () => {
  it('leaves a queued reference without a version alone: it fetches the current one at delivery', async () => {
    await store.enqueue({
      source: 'aws',
      eventId: 'rotation-succeeded-1',
      eventTime: Date.now() - 1000,
      receivedAt: Date.now() - 1000,
      secrets: [{ vault: 'prod', name: 'DB', sealed: null, ref: { secretId: arn }, fingerprint: null }],
    })
    expect((await reconciler.resync({})).secrets[0]?.outcome).toBe('queued')
    await deliver(1)
    rwx.alter('prod', 'DB', null)
    // delivered: the version found then is the one it holds; only the (missing) RWX copy is repaired
    const after = await reconciler.resync({})
    expect(after.secrets[0]?.outcome).toBe('repair')
    const ids = (await store.listEvents({ source: 'aws', limit: 10 })).map((e) => e.eventId.split(':')[0])
    expect(ids.sort()).toEqual(['repair', 'rotation-succeeded-1'])
  })
})
