// /admin: list, show (with provenance), retry and discard events, pause and resume, show and reset a name's
// never-regress state (Bearer RELAY_ADMIN_TOKEN).
// Never returns a value.
import type { FastifyInstance } from 'fastify'
import { valueKeyOf } from '../config/schema.js'
import { RelayError } from '../errors.js'
import {
  type Attempt,
  type ProvenanceRecord,
  SECRET_STATUSES,
  type SecretStatus,
  type Store,
} from '../queue/store.js'
import { secretEqual } from '../verify/compare.js'
import { adminNameRoutes } from './admin-names.js'
import { type AdminOperationsOptions, adminOperationRoutes, iso } from './admin-operations.js'
import { type AdminSecretsOptions, adminSecretRoutes } from './admin-secrets.js'

export interface AdminRouteOptions extends AdminOperationsOptions, AdminSecretsOptions {
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
    const { source, eventId } = request.params
    const [event, provenance] = await Promise.all([
      opts.store.getEvent(source, eventId),
      opts.store.getProvenance(source, eventId),
    ])
    if (event === null) throw new RelayError('ERR_NOT_FOUND', 'no such event')
    return withProvenance(present(event), provenance)
  })

  adminOperationRoutes(app, opts)
  adminNameRoutes(app, opts)
  adminSecretRoutes(app, opts)

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

const presentAttempt = (a: Attempt) => ({
  at: iso(a.at),
  outcome: a.outcome,
  status: a.status,
  version: a.version,
  error: a.error,
})

/**
 * Adds provenance to an event's view: how it was verified (which key, never the key), the rule behind each
 * secret, every attempt, and the version RWX said it wrote and the one read back.
 */
function withProvenance(view: ReturnType<typeof present>, p: ProvenanceRecord | null) {
  return {
    ...view,
    provenance: { receivedAt: view.receivedAt, verifier: p?.verifier ?? null, keyId: p?.keyId ?? null },
    ...(view.secrets
      ? {
          secrets: view.secrets.map((s) => {
            const attempts = p?.attempts[s.id] ?? []
            const read = attempts.findLast((a) => a.outcome === 'read-back' || a.outcome === 'outside-change')
            return {
              ...s,
              rule: p?.rules[s.id] ?? null,
              history: attempts.map(presentAttempt),
              readBack: read
                ? {
                    at: iso(read.at),
                    version: read.version,
                    outsideChange: read.outcome === 'outside-change',
                  }
                : null,
            }
          }),
        }
      : {}),
  }
}

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
            valueFrom: s.ref ? valueKeyOf(s.ref) : 'payload',
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
