// /admin/names: a vault and name's never-regress state (watermark, waiting values, fence) and its reset,
// the way out for a name stuck behind a value delivered with an event time in the future. Never a value.
import type { FastifyInstance } from 'fastify'
import { RelayError } from '../errors.js'
import { problem, sendProblem } from '../http/problem.js'
import type { DeliveredMark, NameState, Store } from '../queue/store.js'
import { iso } from './admin-operations.js'

export interface AdminNamesOptions {
  store: Store
  clock: () => number
  /** Wakes the delivery worker: a lifted fence makes the name's queued value due at once. */
  onRequeued?: (() => void) | undefined
}

interface NameParams {
  vault: string
  name: string
}

interface ResetBody {
  reason?: unknown
  liftFence?: unknown
  by?: unknown
}

const MAX_REASON = 200
const MAX_BY = 100

function presentMark(m: DeliveredMark | null) {
  return m === null
    ? null
    : {
        eventTime: iso(m.eventTime),
        eventTimeMs: m.eventTime,
        secretId: m.secretId,
        source: m.source,
        event: m.eventId,
        rwxVersion: m.rwxVersion,
        at: iso(m.updatedAt),
      }
}

/** The admin view of a name: metadata only (the store's NameState carries no value). */
function presentName(s: NameState) {
  return {
    vault: s.vault,
    name: s.name,
    delivered: presentMark(s.delivered),
    queued: s.queued,
    inFlight: s.inFlight,
    fencedUntil: iso(s.fencedUntil),
    unconfirmed: s.unconfirmed,
    unconfirmedSince: iso(s.unconfirmedSince),
  }
}

const noSuchName = () => new RelayError('ERR_NOT_FOUND', 'no such vault and name in the queue')

/** Registers the routes under the admin plugin (its Bearer check applies). */
export function adminNameRoutes(app: FastifyInstance, opts: AdminNamesOptions): void {
  app.get<{ Params: NameParams }>('/admin/names/:vault/:name', async (request) => {
    const { vault, name } = request.params
    const state = await opts.store.getName(vault, name, opts.clock())
    if (state === null) throw noSuchName()
    return presentName(state)
  })

  app.post<{ Params: NameParams; Body: ResetBody | null }>(
    '/admin/names/:vault/:name/reset',
    async (request, reply) => {
      const { vault, name } = request.params
      const body = request.body ?? {}
      const { reason, liftFence = false, by } = body
      if (reason === undefined || reason === null || (typeof reason === 'string' && reason.trim() === '')) {
        return sendProblem(
          reply,
          problem(422, 'ERR_REASON_REQUIRED', 'a reset needs a reason (the log keeps it)'),
        )
      }
      if (typeof reason !== 'string' || reason.length > MAX_REASON)
        throw new RelayError('ERR_BAD_REQUEST', `reason must be a string of at most ${MAX_REASON} characters`)
      if (typeof liftFence !== 'boolean')
        throw new RelayError('ERR_BAD_REQUEST', 'liftFence must be a boolean')
      if (by !== undefined && (typeof by !== 'string' || by.length > MAX_BY))
        throw new RelayError('ERR_BAD_REQUEST', `by must be a string of at most ${MAX_BY} characters`)

      const done = await opts.store.resetName(vault, name, opts.clock(), { liftFence })
      if (done === null) throw noSuchName()
      if (done.fenceLifted) opts.onRequeued?.()
      const reset = done.previous !== null
      // Who (the caller's address, and the operator's name when given), when (the line's time) and why.
      request.log.warn(
        {
          vault,
          name,
          reason,
          by: by ?? null,
          from: request.ip,
          reset,
          previousEventTime: iso(done.previous?.eventTime),
          liftFence,
          fenceLifted: done.fenceLifted,
        },
        'admin name reset: never-regress watermark cleared',
      )
      return {
        vault,
        name,
        reset,
        fenceLifted: done.fenceLifted,
        previous: presentMark(done.previous),
        state: presentName(done.state),
      }
    },
  )
}
