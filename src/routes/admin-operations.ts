// /admin pause, resume and status: the global delivery switch (shared by every replica), breaker and outside changes.
import type { FastifyInstance } from 'fastify'
import type { PauseSwitch } from '../delivery/pause.js'
import { type DeliveryHandle, deliveryState } from '../delivery/types.js'
import { RelayError } from '../errors.js'
import type { ControlState, Store } from '../queue/store.js'

export interface AdminOperationsOptions {
  store: Store
  pause: PauseSwitch
  /** This process's delivery worker, if any: woken on resume, asked for its breaker. */
  delivery?: DeliveryHandle | undefined
}

const MAX_REASON = 200

/** Epoch milliseconds as RFC 3339, null kept (admin answers show times this way). */
export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString()

function presentControl(c: ControlState) {
  return { paused: c.paused, changedAt: iso(c.changedAt), reason: c.reason }
}

/** Registers the routes under the admin plugin (its Bearer check applies). */
export function adminOperationRoutes(app: FastifyInstance, opts: AdminOperationsOptions): void {
  app.post<{ Body: { reason?: unknown } | null }>('/admin/pause', async (request) => {
    const given = request.body?.reason
    if (given !== undefined && (typeof given !== 'string' || given.length > MAX_REASON)) {
      throw new RelayError('ERR_BAD_REQUEST', `reason must be a string of at most ${MAX_REASON} characters`)
    }
    const state = await opts.pause.set(true, typeof given === 'string' ? given : null)
    request.log.warn({ reason: state.reason }, 'admin pause: delivery to RWX paused on every replica')
    return presentControl(state)
  })

  app.post('/admin/resume', async (request) => {
    const state = await opts.pause.set(false, null)
    opts.delivery?.notify()
    request.log.warn('admin resume: delivery to RWX resumed')
    return presentControl(state)
  })

  app.get('/admin/status', async () => {
    const [control, counts, outside, sweeps] = await Promise.all([
      opts.pause.current(),
      opts.store.counts(),
      opts.store.outsideChanges(20),
      opts.store.sweeps(),
    ])
    const status = opts.delivery?.status()
    const breaker = status?.breaker
    return {
      ...presentControl(control),
      delivery: deliveryState(control.paused, status),
      ...(status
        ? {
            rwx: {
              auth: status.authFailing ? 'failing' : 'ok',
              lastSuccessAt: iso(status.lastSuccessAt),
            },
          }
        : {}),
      queue: counts,
      ...(breaker
        ? {
            breaker: {
              state: breaker.state,
              failures: breaker.failures,
              openedAt: iso(breaker.openedAt),
              nextProbeAt: iso(breaker.nextProbeAt),
            },
          }
        : {}),
      ...(status?.rateLimitedUntil !== undefined ? { rateLimitedUntil: iso(status.rateLimitedUntil) } : {}),
      ...(status?.missingVaults
        ? {
            missingVaults: status.missingVaults.map((m) => ({ vault: m.vault, since: iso(m.since) })),
          }
        : {}),
      // Reconciliation sweeps of every source, as stored (by whichever replica swept).
      reconcile: sweeps.map((w) => ({
        source: w.source,
        lastAt: iso(w.lastAt),
        lastOutcome: w.lastOutcome,
        lastSuccessAt: iso(w.lastOkAt),
        nextDueAt: iso(w.nextDueAt),
        sweeping: w.leaseOwner !== null,
      })),
      outsideChanges: {
        total: outside.total,
        latest: outside.latest.map((c) => ({
          source: c.source,
          event: c.eventId,
          vault: c.vault,
          name: c.name,
          at: iso(c.at),
          written: c.written,
          readBack: c.readBack,
        })),
      },
    }
  })
}
