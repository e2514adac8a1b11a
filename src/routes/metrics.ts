// GET /metrics: the Prometheus text, with the delivery gauges read at scrape time.
import type { FastifyInstance } from 'fastify'
import type { PauseSwitch } from '../delivery/pause.js'
import type { DeliveryStatus } from '../delivery/types.js'
import type { Metrics } from '../metrics.js'

export interface MetricsRouteOptions {
  metrics: Metrics
  pause: PauseSwitch
  /** What the delivery worker tells about RWX; absent when no worker runs in this process. */
  delivery?: () => DeliveryStatus
}

export async function metricsRoutes(app: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const delivery = opts.delivery?.()
    opts.metrics.rwxAuthFailing.set(delivery?.authFailing ? 1 : 0)
    opts.metrics.rwxMissingVaults.set(delivery?.missingVaultCount ?? 0)
    opts.metrics.rwxBreakerOpen.set(delivery?.breaker.state === 'open' ? 1 : 0)
    opts.metrics.paused.set((await opts.pause.current()).paused ? 1 : 0)
    reply.type(opts.metrics.registry.contentType)
    return opts.metrics.registry.metrics()
  })
}
