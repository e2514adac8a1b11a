// GET /healthz (the process answers), /readyz (store reachable; RWX auth reported).
import type { FastifyInstance } from 'fastify'
import type { PauseSwitch } from '../delivery/pause.js'
import { type DeliveryStatus, deliveryState } from '../delivery/types.js'
import { problem, sendProblem } from '../http/problem.js'
import type { Store } from '../queue/store.js'

export interface HealthRouteOptions {
  store: Store
  pause: PauseSwitch
  /** What the delivery worker tells about RWX; absent when no worker runs in this process. */
  delivery?: () => DeliveryStatus
  isClosing: () => boolean
}

export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }))

  // Readiness governs traffic: the relay can take events while RWX refuses the token (they wait in
  // the queue), so a failing token is reported here but does not make the relay unready.
  app.get('/readyz', async (request, reply) => {
    if (opts.isClosing()) return sendProblem(reply, problem(503, 'ERR_SHUTTING_DOWN', 'shutting down'), 5)
    try {
      await opts.store.ping()
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'store not reachable')
      return sendProblem(reply, problem(503, 'ERR_STORE_UNAVAILABLE', 'the store is not reachable'), 5)
    }
    const delivery = opts.delivery?.()
    const missing = delivery?.missingVaults ?? []
    const rwx =
      delivery === undefined
        ? undefined
        : {
            auth: delivery.authFailing ? 'failing' : 'ok',
            ...(delivery.authFailing
              ? { detail: 'RWX refuses the token (401/403): fix RWX_ACCESS_TOKEN' }
              : {}),
            ...(delivery.lastSuccessAt !== undefined
              ? { lastSuccessAt: new Date(delivery.lastSuccessAt).toISOString() }
              : {}),
            breaker: delivery.breaker.state,
            // RWX answered 429: every request waits its Retry-After (still ready: events keep queuing).
            ...(delivery.rateLimitedUntil !== undefined
              ? { rateLimitedUntil: new Date(delivery.rateLimitedUntil).toISOString() }
              : {}),
            // A count only: /readyz is unauthenticated, and vault names are the operator's to see
            // (GET /admin/status lists them).
            ...(missing.length > 0
              ? {
                  missingVaults: missing.length,
                  missingVaultsDetail:
                    'RWX answers 404 for some vaults: create them (or fix the vault names); their secrets stay queued. GET /admin/status (vault-relay status) names them',
                }
              : {}),
          }
    // Paused is still ready: events are taken and queued, only delivery waits.
    const { paused } = await opts.pause.current()
    return {
      status: { paused: 'paused', degraded: 'degraded', running: 'ready' }[deliveryState(paused, delivery)],
      store: opts.store.kind,
      paused,
      ...(rwx ? { rwx } : {}),
    }
  })
}
