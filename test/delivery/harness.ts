// Shared setup for worker tests: a real SQLite store on a temp file, the fake RWX, a worker, captured logs.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from '../../src/app.js'
import type { AwsValueRef, DeliveryConfig } from '../../src/config/schema.js'
import { createPauseSwitch, type PauseSwitch } from '../../src/delivery/pause.js'
import { createRwxClient, type RwxClient } from '../../src/delivery/rwx-client.js'
import type { DeliveryEvents } from '../../src/delivery/types.js'
import type { ReferenceResolver } from '../../src/delivery/values.js'
import { createDeliveryWorker, type DeliveryWorker } from '../../src/delivery/worker.js'
import { parseConfig } from '../../src/load-config.js'
import { createMetrics } from '../../src/metrics.js'
import { createSealer, type Sealer, valueAad } from '../../src/queue/crypto.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import type { SecretRecord, Store } from '../../src/queue/store.js'
import { buildSources } from '../../src/receive/sources.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { until } from '../support/until.js'

export const TOKEN = 'rwx-token-7f3a9c'

/** Small, fast settings: tests wait on conditions, so backoff stays in tens of milliseconds. */
export const TEST_CONFIG: DeliveryConfig = {
  maxAttempts: 5,
  maxAgeSeconds: 3600,
  batchSize: 10,
  batchWindowMs: 5,
  concurrency: 2,
  leaseSeconds: 30,
  backoffBaseMs: 10,
  backoffMaxMs: 40,
  authRetrySeconds: 1,
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  uncertainWriteSeconds: 60,
  keepDeadValuesSeconds: 0,
  verify: false,
  breaker: { threshold: 3, probeMs: 10, probeMaxMs: 40, connectProbeMaxMs: 40 },
}

/** A secret to queue: a value (sealed here) or a reference. */
export interface TestSecret {
  vault?: string
  name: string
  value?: string
  ref?: AwsValueRef
  description?: string
}

export interface Harness {
  fake: FakeRwx
  store: SqliteStore
  sealer: Sealer
  client: RwxClient
  worker: DeliveryWorker
  /** Every log line written, as JSON text. */
  logs: string[]
  /** Queues one event (vault defaults to `payments`); returns its id. */
  enqueue(secrets: TestSecret[], options?: { receivedAt?: number; sealer?: Sealer }): Promise<string>
  /** The event's secrets, in queue order. */
  secrets(eventId: string): Promise<SecretRecord[]>
  /** Polls `check` until it is true; throws after `timeoutMs`. */
  until(check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface HarnessOptions {
  config?: Partial<DeliveryConfig>
  resolver?: ReferenceResolver
  events?: DeliveryEvents
  pollMs?: number
  /** Start the worker at once (default true). */
  start?: boolean
  /** Makes the pause switch given to the worker (default: one on the store). */
  pause?: (store: SqliteStore) => PauseSwitch
  /** The store as the worker sees it (default: the store itself), to make one of its calls fail. */
  workerStore?: (store: SqliteStore) => Store
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'vault-relay-delivery-'))
  const fake = await startFakeRwx({ token: TOKEN })
  const store = createSqliteStore({ path: join(dir, 'relay.db') })
  const sealer = createSealer(randomBytes(32))
  const config = { ...TEST_CONFIG, ...options.config }
  const logs: string[] = []
  const log = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) })
  const client = createRwxClient({
    url: fake.url,
    token: () => TOKEN,
    userAgent: 'vault-relay/0.1.0',
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
  })
  const worker = createDeliveryWorker({
    store: options.workerStore?.(store) ?? store,
    client,
    sealer,
    resolver: options.resolver,
    config,
    log,
    owner: `test-${randomUUID()}`,
    events: options.events,
    pollMs: options.pollMs ?? 50,
    pause: options.pause?.(store) ?? createPauseSwitch({ store, clock: Date.now }),
  })
  if (options.start !== false) worker.start()

  return {
    fake,
    store,
    sealer,
    client,
    worker,
    logs,
    async enqueue(secrets, opts = {}) {
      const eventId = randomUUID()
      const now = opts.receivedAt ?? Date.now()
      const seal = opts.sealer ?? sealer
      await store.enqueue({
        source: 'test',
        eventId,
        eventTime: now,
        receivedAt: now,
        secrets: secrets.map((s) => {
          const vault = s.vault ?? 'payments'
          return {
            vault,
            name: s.name,
            description: s.description,
            sealed: s.value === undefined ? null : seal.seal(s.value, valueAad(vault, s.name)),
            ref: s.ref ?? null,
            fingerprint: s.value === undefined ? null : seal.fingerprint(s.value),
          }
        }),
      })
      worker.notify()
      return eventId
    },
    async secrets(eventId) {
      return (await store.getEvent('test', eventId))?.secrets ?? []
    },
    until(check, timeoutMs = 5_000) {
      return until(check, 'the condition', timeoutMs, 10)
    },
    async close() {
      await worker.stop()
      await client.close()
      await fake.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** True when every secret of the event has reached one of `statuses`. */
export async function allIn(
  h: Harness,
  eventId: string,
  ...statuses: SecretRecord['status'][]
): Promise<boolean> {
  const secrets = await h.secrets(eventId)
  return secrets.length > 0 && secrets.every((s) => statuses.includes(s.status))
}

/** Admin token of `adminApp`. */
export const ADMIN_TOKEN = 'adm'

/**
 * The app on the harness's store and worker, with the admin API on (`ADMIN_TOKEN`): what an operator
 * reads while the worker runs. Close it after use.
 */
export async function adminApp(h: Harness): Promise<FastifyInstance> {
  const config = parseConfig(
    `admin: { token: ${ADMIN_TOKEN} }
sources:
  - id: test
    verify: { type: api-key, header: x-key, keys: [k] }
    rules: []
`,
    { RWX_ACCESS_TOKEN: 'unused' },
  )
  return buildApp(config, {
    store: h.store,
    sealer: h.sealer,
    sources: buildSources(config.sources, {}),
    metrics: createMetrics(h.store),
    pause: createPauseSwitch({ store: h.store, clock: Date.now }),
    logger: pino({ level: 'silent' }),
    delivery: h.worker,
  })
}
