// buildApp(config, deps): the Fastify app with every route; never listens (relay.ts does, tests inject).
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config/schema.js'
import type { PauseSwitch } from './delivery/pause.js'
import type { DeliveryHandle } from './delivery/types.js'
import { edgeOptions, REQUEST_ID_LOG_LABEL, registerEdge } from './http/edge.js'
import { installProblemHandlers } from './http/problem.js'
import type { Metrics } from './metrics.js'
import type { Sealer } from './queue/crypto.js'
import type { Store } from './queue/store.js'
import { createIngest } from './receive/ingest.js'
import type { Source } from './receive/sources.js'
import { adminRoutes } from './routes/admin.js'
import { healthRoutes } from './routes/health.js'
import { hookRoutes } from './routes/hooks.js'
import { jwksRoutes } from './routes/jwks.js'

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
}

declare module 'fastify' {
  interface FastifyInstance {
    relayRoutes: { method: string; url: string }[]
  }
}

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? Date.now
  const { metrics, pause } = deps
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
  const isClosing = () => closing
  installProblemHandlers(app)
  await registerEdge(app, config, { onShed: (reason) => metrics.shed.inc({ reason }) })
  await app.register(rateLimit, { global: false })

  const notify = () => deps.delivery?.notify()
  const ingest = createIngest({
    sources: deps.sources,
    store: deps.store,
    sealer: deps.sealer,
    clock,
    onQueued: notify,
  })
  await app.register(hookRoutes, { config, ingest, metrics, isClosing })
  await app.register(jwksRoutes, { config })
  await app.register(healthRoutes, {
    store: deps.store,
    metrics,
    pause,
    isClosing,
    ...(deps.delivery ? { delivery: () => deps.delivery!.status() } : {}),
  })
  const adminToken = config.admin.token
  if (adminToken !== undefined && adminToken !== '') {
    await app.register(adminRoutes, {
      token: adminToken,
      store: deps.store,
      clock,
      onRequeued: notify,
      pause,
      delivery: deps.delivery,
    })
  }
  return app
}
