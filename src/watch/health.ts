// The notifier's GET /healthz (the process answers), /readyz (in sync, relay keys fetched), /metrics.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import { installProblemHandlers, problem, sendProblem } from '../http/problem.js'
import type { WatchConfig } from './config.js'
import type { WatchMetrics } from './metrics.js'

export interface HealthDeps {
  log: Logger
  metrics: WatchMetrics
  /** Every watch has listed its Secrets. */
  synced(): boolean
  /** Resolves once the relay's JWKS has been fetched; throws while it cannot be. */
  keysReady(): Promise<void>
}

/** The listener, not listening yet (tests inject). */
export function buildHealthApp(deps: HealthDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
  })
  installProblemHandlers(app)
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    if (!deps.synced())
      return sendProblem(
        reply,
        problem(503, 'ERR_NOT_SYNCED', 'the watches have not listed their Secrets yet'),
        1,
      )
    try {
      await deps.keysReady()
    } catch {
      return sendProblem(
        reply,
        problem(503, 'ERR_KEYS_UNAVAILABLE', 'the relay’s encryption keys (JWKS) cannot be fetched'),
        1,
      )
    }
    return { status: 'ready' }
  })
  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType)
    return deps.metrics.registry.metrics()
  })
  return app
}

/** Listens on `health.host`:`health.port`; undefined when the port is 0 (off). */
export async function startHealth(
  health: WatchConfig['health'],
  deps: HealthDeps,
): Promise<{ url: string; close(): Promise<void> } | undefined> {
  if (health.port === 0) return undefined
  const app = buildHealthApp(deps)
  const url = await app.listen({ host: health.host, port: health.port })
  return { url, close: () => app.close() }
}
