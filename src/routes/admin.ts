// /admin: list, show, retry and discard events (Bearer RELAY_ADMIN_TOKEN). Never returns a value.
import type { FastifyInstance } from 'fastify'
import { RelayError } from '../errors.js'
import { SECRET_STATUSES, type SecretStatus, type Store } from '../queue/store.js'
import { secretEqual } from '../verify/compare.js'

export interface AdminRouteOptions {
  token: string
  store: Store
  clock: () => number
  /** Wakes the delivery worker after a retry. */
  onRequeued?: () => void
}

interface EventParams {
  source: string
  eventId: string
}

export async function adminRoutes(app: FastifyInstance, opts: AdminRouteOptions): Promise<void> {
  const expected = `Bearer ${opts.token}`
  app.addHook('onRequest', async (request) => {
    const given = request.headers.authorization ?? ''
    if (!secretEqual(given, expected)) {
      throw new RelayError(
        'ERR_ADMIN_UNAUTHORIZED',
        'admin API needs Authorization: Bearer <RELAY_ADMIN_TOKEN>',
      )
    }
  })

  app.get<{ Querystring: { source?: string; status?: string; limit?: string; before?: string } }>(
    '/admin/events',
    async (request) => {
      const q = request.query
      const status = q.status as SecretStatus | undefined
      if (status !== undefined && !SECRET_STATUSES.includes(status)) {
        throw new RelayError('ERR_BAD_REQUEST', `status must be one of ${SECRET_STATUSES.join(', ')}`)
      }
      const limit = q.limit === undefined ? 50 : Number(q.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new RelayError('ERR_BAD_REQUEST', 'limit must be a whole number from 1 to 500')
      }
      const before = q.before === undefined ? undefined : Date.parse(q.before)
      if (before !== undefined && Number.isNaN(before)) {
        throw new RelayError('ERR_BAD_REQUEST', 'before must be an RFC 3339 time')
      }
      const events = await opts.store.listEvents({ source: q.source, status, limit, before })
      return { events: events.map(present) }
    },
  )

  app.get<{ Params: EventParams }>('/admin/events/:source/:eventId', async (request) => {
    const event = await opts.store.getEvent(request.params.source, request.params.eventId)
    if (event === null) throw new RelayError('ERR_NOT_FOUND', 'no such event')
    return present(event)
  })

  app.post<{ Params: EventParams }>('/admin/events/:source/:eventId/retry', async (request) => {
    const { source, eventId } = request.params
    if ((await opts.store.getEvent(source, eventId)) === null)
      throw new RelayError('ERR_NOT_FOUND', 'no such event')
    const queued = await opts.store.retryEvent(source, eventId, opts.clock())
    if (queued > 0) opts.onRequeued?.()
    request.log.info({ source, event: eventId, queued }, 'admin retry')
    return { event: eventId, queued }
  })

  app.post<{ Params: EventParams }>('/admin/events/:source/:eventId/discard', async (request) => {
    const { source, eventId } = request.params
    if ((await opts.store.getEvent(source, eventId)) === null)
      throw new RelayError('ERR_NOT_FOUND', 'no such event')
    const discarded = await opts.store.discardEvent(source, eventId, opts.clock())
    request.log.info({ source, event: eventId, discarded }, 'admin discard')
    return { event: eventId, discarded }
  })
}

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString()

/** The admin view of an event: metadata only; the store's records carry no value to leak. */
function present(e: Awaited<ReturnType<Store['getEvent']>> & object) {
  return {
    source: e.source,
    event: e.eventId,
    eventTime: iso(e.eventTime),
    receivedAt: iso(e.receivedAt),
    counts: e.counts,
    ...(e.secrets
      ? {
          secrets: e.secrets.map((s) => ({
            id: s.id,
            vault: s.vault,
            name: s.name,
            status: s.status,
            valueFrom: s.ref ? 'awsSecretsManager' : 'payload',
            attempts: s.attempts,
            nextAttemptAt: s.status === 'queued' ? iso(s.nextAttemptAt) : null,
            lastError: s.lastError,
            rwxVersion: s.rwxVersion,
            fingerprint: s.fingerprint,
            createdAt: iso(s.createdAt),
            deliveredAt: iso(s.deliveredAt),
          })),
        }
      : {}),
  }
}
