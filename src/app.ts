// buildApp(config, deps): the Fastify app with every route (buildAdminApp: metrics and admin apart); never listens.
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config/schema.js'
import type { PauseSwitch } from './delivery/pause.js'
import type { DeliveryHandle } from './delivery/types.js'
import { echoRequestId, edgeOptions, REQUEST_ID_LOG_LABEL, registerEdge } from './http/edge.js'
import { installProblemHandlers } from './http/problem.js'
import type { Metrics } from './metrics.js'
import type { Sealer } from './queue/crypto.js'
import type { Store } from './queue/store.js'
import { createIngest } from './receive/ingest.js'
import type { Source } from './receive/sources.js'
import type { ReconcileHandle } from './reconcile/inventory.js'
import { adminRoutes } from './routes/admin.js'
import { healthRoutes } from './routes/health.js'
import { hookRoutes } from './routes/hooks.js'
import { jwksRoutes } from './routes/jwks.js'
import { metricsRoutes } from './routes/metrics.js'
import { consolePlugin } from './ui/plugin.js'

export interface AppDeps {
  store: Store
  sealer: Sealer
  sources: ReadonlyMap<string, Source>
  logger: Logger
  clock?: () => number
  /** The relay's metrics (src/relay.ts makes them once, with the worker's). */
  metrics: Metrics
  /** The delivery worker in this process, if any: woken on new work, asked for RWX status. */
  delivery?: DeliveryHandle
  /** The global pause switch, the worker's own (src/relay.ts makes it once). */
  pause: PauseSwitch
  /** Reconciliation in this process (the inventory's declared names, resync); absent when none. */
  reconcile?: ReconcileHandle
}

declare module 'fastify' {
  interface FastifyInstance {
    relayRoutes: { method: string; url: string }[]
  }
}

/** A Fastify instance with the edge's options, request ids, problem answers and the route list. */
function createFastify(config: Config, deps: AppDeps): { app: FastifyInstance; isClosing: () => boolean } {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: REQUEST_ID_LOG_LABEL,
    }),
    ...edgeOptions(config.server),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  // The routes this app serves, for the test that holds openapi.yaml against them.
  const routes: { method: string; url: string }[] = []
  app.decorate('relayRoutes', routes)
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url })
  })
  let closing = false
  app.addHook('onClose', async () => {
    closing = true
  })
  installProblemHandlers(app)
  return { app, isClosing: () => closing }
}

/** Health probes, metrics and (with a token) the admin API: on the main app, or apart on `server.adminPort`. */
async function registerOperations(
  app: FastifyInstance,
  config: Config,
  deps: AppDeps,
  isClosing: () => boolean,
  operations: boolean,
): Promise<void> {
  const { metrics, pause } = deps
  const clock = deps.clock ?? Date.now
  const delivery = deps.delivery ? { delivery: () => deps.delivery!.status() } : {}
  // /healthz and /readyz answer on both listeners, so probes work whichever port they name.
  await app.register(healthRoutes, { store: deps.store, pause, isClosing, ...delivery })
  if (!operations) return
  await app.register(metricsRoutes, { metrics, pause, ...delivery })
  const adminToken = config.admin.token
  if (adminToken !== undefined && adminToken !== '') {
    await app.register(adminRoutes, {
      token: adminToken,
      store: deps.store,
      clock,
      onRequeued: () => deps.delivery?.notify(),
      pause,
      delivery: deps.delivery,
      reconcile: deps.reconcile,
    })
    if (config.admin.console.enabled) await registerConsole(app, config, deps, adminToken)
  }
}

/** The operations console at /ui, beside /admin (same listener, same token). */
async function registerConsole(app: FastifyInstance, config: Config, deps: AppDeps, adminToken: string) {
  await app.register(consolePlugin, {
    prefix: '/ui',
    adminToken,
    readOnlyToken: config.admin.readOnlyToken || undefined,
    sessionMinutes: config.admin.console.sessionMinutes,
    store: deps.store,
    pause: deps.pause,
    delivery: deps.delivery,
    metrics: deps.metrics,
    clock: deps.clock ?? Date.now,
    onRequeued: () => deps.delivery?.notify(),
    reconcile: deps.reconcile,
    sources: config.sources.map((s) => ({
      id: s.id,
      // A pull-only source (reconcile, no verify) takes no webhooks: no verifier, no route.
      verifier: s.verify?.type ?? 'none (pull only)',
      route: s.verify === undefined ? '' : `/hooks/${s.id}`,
      rules: s.rules.length,
      vaults: [...new Set(s.rules.flatMap((r) => r.secrets.map((x) => x.vault)))],
    })),
  })
}

/**
 * The relay's app: webhooks, JWKS and health; `/metrics` and `/admin` too unless `server.adminPort` is
 * set (then buildAdminApp serves them, and this app answers 404 for them).
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? Date.now
  const { metrics } = deps
  const { app, isClosing } = createFastify(config, deps)
  await registerEdge(app, config, { onShed: (reason) => metrics.shed.inc({ reason }) })
  await app.register(rateLimit, { global: false })

  const ingest = createIngest({
    sources: deps.sources,
    store: deps.store,
    sealer: deps.sealer,
    clock,
    onQueued: () => deps.delivery?.notify(),
  })
  await app.register(hookRoutes, { config, ingest, metrics, isClosing })
  await app.register(jwksRoutes, { config })
  await registerOperations(app, config, deps, isClosing, config.server.adminPort === undefined)
  return app
}

/**
 * The operations app for `server.adminPort`: `/metrics`, `/admin` (with a token), `/healthz` and
 * `/readyz`; no webhook. It shares the store, metrics and pause switch of `deps` with buildApp's.
 */
export async function buildAdminApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const { app, isClosing } = createFastify(config, deps)
  app.addHook('onRequest', echoRequestId)
  await registerOperations(app, config, deps, isClosing, true)
  return app
}
