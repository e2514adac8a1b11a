// The process: load config, make the logger and store, serve, deliver, and shut down with grace.
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { type Env, loadConfig, resolveConfigPath } from './config/load.js'
import type { Config } from './config/schema.js'
import { createTokenSource } from './config/token.js'
import { createPauseSwitch } from './delivery/pause.js'
import { createRwxClient } from './delivery/rwx-client.js'
import { createDeliveryWorker } from './delivery/worker.js'
import { createLogger } from './log.js'
import { createMetrics } from './metrics.js'
import { openStore } from './queue/open.js'
import { createRetentionJob } from './queue/retention.js'
import { buildSources } from './receive/ingest.js'
import { USER_AGENT } from './version.js'

export interface RunningRelay {
  app: FastifyInstance
  config: Config
  /** The address the relay listens on, e.g. http://127.0.0.1:8080. */
  url: string
  /** Stops taking requests, finishes in-flight deliveries, closes the store. Idempotent. */
  close(): Promise<void>
}

/** A problem that stops start-up: printed without a stack, exit code 2. */
export class StartupError extends Error {
  override readonly name = 'StartupError'
}

export async function startRelay(env: Env, cwd: string): Promise<RunningRelay> {
  const config = loadConfig(resolveConfigPath(env, cwd), env)
  const token = createTokenSource(config.rwx)
  try {
    token()
  } catch (err) {
    throw new StartupError(`${(err as Error).message}`)
  }
  const log = createLogger(config.logLevel)
  // The example's public defaults: 'DEMO-ONLY' in clear, or in base64 (a whsec_ secret).
  for (const s of config.sources) {
    if (/DEMO-ONLY|REVNTy1PTkxZ/.test(JSON.stringify(s.verify))) {
      log.warn(
        { source: s.id },
        'source uses a public DEMO-ONLY signing secret from the example config: set your own',
      )
    }
  }
  const { store, sealer } = await openStore(config, log, cwd)
  const metrics = createMetrics(store)
  // The AWS SDK costs ~16 MiB: load it only when a rule fetches values from Secrets Manager.
  const usesAws = config.sources.some((s) =>
    s.rules.some((r) => r.secrets.some((x) => typeof x.value !== 'string')),
  )
  const resolver = usesAws
    ? (await import('./delivery/aws-secrets.js')).createAwsResolver({ log })
    : undefined
  const client = createRwxClient({
    url: config.rwx.url,
    token,
    userAgent: USER_AGENT,
    connectTimeoutMs: config.delivery.connectTimeoutMs,
    requestTimeoutMs: config.delivery.requestTimeoutMs,
  })
  const pause = createPauseSwitch({ store, clock: Date.now })
  const worker = createDeliveryWorker({
    pause,
    store,
    client,
    sealer,
    resolver,
    config: config.delivery,
    log: log.child({ component: 'delivery' }),
    clock: Date.now,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    events: {
      onOutcome: (kind) => metrics.outcomes.inc({ outcome: kind }),
      onRequest: (result, _secrets, ms) => {
        metrics.rwxRequests.inc({ result })
        metrics.rwxLatency.observe({ result }, ms / 1000)
      },
      onOutsideChange: (change) => metrics.outsideChanges.inc({ change }),
    },
  })
  // Opt-in: unset keeps every event's metadata, as the relay always has.
  const retention =
    config.retention.days === undefined
      ? undefined
      : createRetentionJob({
          store,
          days: config.retention.days,
          log: log.child({ component: 'retention' }),
          purged: metrics.purgedEvents,
        })
  const sources = buildSources(config.sources, {})
  const app = await buildApp(config, {
    store,
    sealer,
    sources,
    logger: log,
    metrics,
    delivery: worker,
    pause,
  })
  const url = await app.listen({ host: config.server.host, port: config.server.port })
  worker.start()
  retention?.start()
  log.info(
    {
      url,
      store: store.kind,
      sources: config.sources.map((s) => s.id),
      rwx: config.rwx.url,
      retentionDays: config.retention.days ?? null,
    },
    'vault-relay listening',
  )

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down: draining HTTP, finishing deliveries')
      await app.close()
      // no purge starts while deliveries drain; one under way ends after its chunk
      await retention?.stop()
      await worker.stop()
      await store.close()
      await client.close()
      resolver?.close()
      for (const s of sources.values()) s.verifier.close?.()
      log.info('stopped')
    })()
    return closing
  }
  return { app, config, url, close }
}
