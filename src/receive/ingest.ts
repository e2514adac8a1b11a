// The receive service: verify → map → seal → durably queue one webhook, and say what happened.
import { isRelayError, RelayError } from '../errors.js'
import { type Sealer, valueAad } from '../queue/crypto.js'
import type { NewSecret, Store } from '../queue/store.js'
import { sha256Hex } from '../verify/compare.js'
import type { Headers, VerifiedEvent } from '../verify/types.js'
import type { Source } from './sources.js'

/**
 * What the hook answers: 202 when secrets were queued, else 200 (a duplicate, nothing to map, a handshake
 * or a provider notice). `event` is the (first) event id and `secrets` the count queued, for the log and
 * metrics; `notices` the notice kinds the delivery carried (counted and logged, never queued).
 */
export interface IngestAnswer {
  status: 200 | 202
  body: Record<string, unknown>
  event: string
  secrets: number
  notices: string[]
}

export interface IngestDeps {
  sources: ReadonlyMap<string, Source>
  store: Store
  sealer: Sealer
  clock: () => number
  /** Called after secrets were committed, so the worker can start at once. */
  onQueued?: () => void
}

export interface Ingest {
  source(id: string): Source | undefined
  receive(sourceId: string, headers: Headers, body: Buffer, query?: string): Promise<IngestAnswer>
  /** The headers answering an `OPTIONS` preflight on a source whose scheme has one; throws otherwise. */
  preflight(sourceId: string, headers: Headers, query?: string): Promise<Record<string, string>>
}

/** One event of a delivery, mapped and ready to queue (or a notice, or nothing to map). */
interface Prepared {
  eventId: string
  /** Notice kinds: the verifier's (a provider's notice type) or the matched rules' `notice`. */
  notices: string[]
  enqueue?: () => Promise<Awaited<ReturnType<Store['enqueue']>>>
  secrets: number
}

/**
 * How far ahead of the relay's clock an event time may be (clock skew between sender and relay). A
 * later time would make the event newer than any real update for that name for as long as it lasts.
 */
const EVENT_TIME_FUTURE_TOLERANCE_MS = 300_000

/** The 413 for a body over a source's limit: thrown before reading (declared length) and after. */
export function bodyTooLarge(limit: number): RelayError {
  return new RelayError('ERR_BODY_TOO_LARGE', `body is over this source's limit of ${limit} bytes`)
}

export function createIngest(deps: IngestDeps): Ingest {
  const { sources, store, sealer, clock } = deps

  /**
   * Maps one event and checks its time; the enqueue is returned, to run once every event has mapped.
   * `fallbackId` names an event that neither the source's `eventId` nor the verifier names.
   */
  function prepare(
    source: Source,
    event: VerifiedEvent,
    fallbackId: () => string,
    keyId: string | undefined,
    now: number,
  ): Prepared {
    const eventId = source.rules.eventId?.(event.payload) ?? event.eventId ?? fallbackId()
    if (event.notice !== undefined) return { eventId, notices: [event.notice], secrets: 0 }
    const eventTime = source.rules.eventTime?.(event.payload) ?? event.eventTime ?? now
    if (eventTime > now + EVENT_TIME_FUTURE_TOLERANCE_MS) {
      throw new RelayError('ERR_EVENT_TIME_FUTURE', 'event time is in the future beyond the clock tolerance')
    }
    const { secrets: mapped, rules, notices } = source.rules.mapWithRules(event.payload)
    // An event no rule wants is not recorded: if the rules change, the provider's resend still counts.
    if (mapped.length === 0) return { eventId, notices, secrets: 0 }
    const secrets: NewSecret[] = mapped.map((m) =>
      'ref' in m
        ? {
            vault: m.vault,
            name: m.name,
            description: m.description,
            sealed: null,
            ref: m.ref,
            fingerprint: null,
          }
        : {
            vault: m.vault,
            name: m.name,
            description: m.description,
            sealed: sealer.seal(m.value, valueAad(m.vault, m.name)),
            ref: null,
            fingerprint: sealer.fingerprint(m.value),
          },
    )
    const provenance = { verifier: source.config.verify.type, keyId: keyId ?? null, rules }
    const enqueue = async () => {
      try {
        return await store.enqueue({
          source: source.config.id,
          eventId,
          eventTime,
          receivedAt: now,
          secrets,
          provenance,
        })
      } catch (err) {
        // The stores already say ERR_STORE_UNAVAILABLE with their own Retry-After; anything else is wrapped.
        if (isRelayError(err)) throw err
        throw new RelayError('ERR_STORE_UNAVAILABLE', 'the queue cannot take the event now', {
          retryAfter: 5,
          cause: err,
        })
      }
    }
    return { eventId, notices, enqueue, secrets: secrets.length }
  }

  return {
    source: (id) => sources.get(id),
    async preflight(sourceId, headers, query) {
      const source = sources.get(sourceId)
      if (source === undefined) throw new RelayError('ERR_SOURCE_NOT_FOUND', 'no such source')
      if (source.verifier.preflight === undefined)
        throw new RelayError('ERR_METHOD_NOT_ALLOWED', 'this source takes no OPTIONS preflight')
      return source.verifier.preflight({ headers, query })
    },
    async receive(sourceId, headers, body, query) {
      const source = sources.get(sourceId)
      if (source === undefined) throw new RelayError('ERR_SOURCE_NOT_FOUND', 'no such source')
      if (body.length > source.config.bodyLimit) {
        throw bodyTooLarge(source.config.bodyLimit)
      }
      const now = clock()
      const verified = await source.verifier.verify({
        headers,
        body,
        now,
        ...(query === undefined ? {} : { query }),
      })
      // The body's hash names an event that carries no id; hashed only then (a body may be 16 MiB).
      let bodyHash: string | undefined
      const fallbackId = () => (bodyHash ??= sha256Hex(body))
      if (verified.handled !== undefined) {
        const event = source.rules.eventId?.(verified.payload) ?? verified.eventId ?? fallbackId()
        const answer = verified.answer ?? { event, handled: verified.handled }
        return { status: 200, body: answer, event, secrets: 0, notices: [] }
      }
      const events = verified.events ?? [verified]
      // Every event maps (or the delivery is refused) before any is queued; a batch queues each event
      // under its own id, so the sender's retry of a half-committed batch finds the rest as duplicates.
      const prepared = events.map((e, i) =>
        prepare(
          source,
          e,
          () => (events.length === 1 ? fallbackId() : `${fallbackId()}:${i}`),
          verified.keyId,
          now,
        ),
      )
      const results = await Promise.all(prepared.map((p) => p.enqueue?.()))
      const notices = prepared.flatMap((p) => p.notices)
      let queued = 0
      let secrets = 0
      let enqueued = 0
      let duplicates = 0
      results.forEach((r, i) => {
        if (r === undefined) return
        enqueued++
        if (r.duplicate) duplicates++
        else secrets += prepared[i]!.secrets
        queued += r.queued
      })
      if (queued > 0) deps.onQueued?.()
      const event = prepared[0]!.eventId
      // A batch names each of its events; `duplicate` when every event that had secrets was one.
      const many = prepared.length > 1 ? { events: prepared.map((p) => p.eventId) } : {}
      const outcome = duplicates > 0 && duplicates === enqueued ? { duplicate: true } : { secrets }
      const answer = { event, ...many, ...outcome, ...(notices.length > 0 ? { notices } : {}) }
      return { status: secrets > 0 ? 202 : 200, body: answer, event, secrets, notices }
    },
  }
}
