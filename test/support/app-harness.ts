// Builds the real app on a real SQLite file in a temp dir, for inject tests.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildAdminApp, buildApp } from '../../src/app.js'
import type { Config } from '../../src/config/schema.js'
import { createPauseSwitch } from '../../src/delivery/pause.js'
import type { DeliveryStatus } from '../../src/delivery/types.js'
import { parseConfig } from '../../src/load-config.js'
import { createLogger } from '../../src/log.js'
import { createMetrics } from '../../src/metrics.js'
import { createSealer, type Sealer } from '../../src/queue/crypto.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { buildSources } from '../../src/receive/sources.js'
import type { ReconcileHandle } from '../../src/reconcile/inventory.js'

export interface Harness {
  app: FastifyInstance
  /** The metrics and admin app (buildAdminApp), when the config sets `server.adminPort`. */
  adminApp?: FastifyInstance
  store: SqliteStore
  sealer: Sealer
  config: Config
  dir: string
  /** Everything the app logged, as text. */
  logs(): string
  notified: number
  close(): Promise<void>
}

/** `yaml` is a relay config; `store` and the RWX token are filled in. */
export async function startHarness(
  yaml: string,
  options: {
    env?: Record<string, string>
    clock?: () => number
    /** What the stand-in delivery worker reports (default: all well). */
    status?: () => DeliveryStatus
    /** Reconciliation as the app sees it (the console's and /admin's resync); none by default. */
    reconcile?: ReconcileHandle
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-app-'))
  const config = parseConfig(yaml, { RWX_ACCESS_TOKEN: 'test-token', ...options.env })
  const store = createSqliteStore({ path: join(dir, 'relay.db') })
  const sealer = createSealer(randomBytes(32))
  const chunks: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      cb()
    },
  })
  const logger = createLogger('trace', sink)
  const harness: Harness = {
    app: undefined as unknown as FastifyInstance,
    store,
    sealer,
    config,
    dir,
    logs: () => chunks.join(''),
    notified: 0,
    async close() {
      await harness.app.close()
      await harness.adminApp?.close()
      await store.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  const deps = {
    store,
    sealer,
    sources: buildSources(config.sources, {}),
    metrics: createMetrics(store),
    pause: createPauseSwitch({ store, clock: options.clock ?? Date.now }),
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.reconcile ? { reconcile: options.reconcile } : {}),
    delivery: {
      notify: () => {
        harness.notified++
      },
      status:
        options.status ??
        (() => ({ authFailing: false, paused: false, breaker: { state: 'closed' as const, failures: 0 } })),
    },
  }
  harness.app = await buildApp(config, deps)
  await harness.app.ready()
  if (config.server.adminPort !== undefined) {
    harness.adminApp = await buildAdminApp(config, deps)
    await harness.adminApp.ready()
  }
  return harness
}
