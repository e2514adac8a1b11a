// The receive service: verify → map → seal → durably queue one webhook, and say what happened.
import { isRelayError, RelayError } from '../errors.js'
import { type Sealer, valueAad } from '../queue/crypto.js'
import type { NewSecret, Store } from '../queue/store.js'
import { sha256Hex } from '../verify/compare.js'
import type { Headers } from '../verify/types.js'
import type { Source } from './sources.js'

/**
 * `notices`: the notice kinds of the rules the event matched (a provider's reminder or warning), for the
 * route to count and log; absent when none.
 */
export type IngestAnswer =
  | { status: 202; body: { event: string; secrets: number; notices?: string[] } }
  | { status: 200; body: { event: string; duplicate: true; notices?: string[] } }
  | { status: 200; body: { event: string; secrets: 0; notices?: string[] } }
  | { status: 200; body: { event: string; handled: string } }

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
  receive(sourceId: string, headers: Headers, body: Buffer): Promise<IngestAnswer>
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
  return {
    source: (id) => sources.get(id),
    async receive(sourceId, headers, body) {
      const source = sources.get(sourceId)
      if (source === undefined) throw new RelayError('ERR_SOURCE_NOT_FOUND', 'no such source')
      if (body.length > source.config.bodyLimit) {
        throw bodyTooLarge(source.config.bodyLimit)
      }
      const now = clock()
      const verified = await source.verifier.verify({ headers, body, now })
      const eventId = source.rules.eventId?.(verified.payload) ?? verified.eventId ?? sha256Hex(body)
      if (verified.handled !== undefined)
        return { status: 200, body: { event: eventId, handled: verified.handled } }
      const eventTime = source.rules.eventTime?.(verified.payload) ?? verified.eventTime ?? now
      if (eventTime > now + EVENT_TIME_FUTURE_TOLERANCE_MS) {
        throw new RelayError(
          'ERR_EVENT_TIME_FUTURE',
          'event time is in the future beyond the clock tolerance',
        )
      }
      const { secrets: mapped, rules, notices: kinds } = source.rules.mapWithRules(verified.payload)
      const notices = kinds.length > 0 ? { notices: kinds } : {}
      // An event no rule wants is not recorded: if the rules change, the provider's resend still counts.
      if (mapped.length === 0) return { status: 200, body: { event: eventId, secrets: 0, ...notices } }
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
      let result: Awaited<ReturnType<Store['enqueue']>>
      try {
        const provenance = { verifier: source.config.verify.type, keyId: verified.keyId ?? null, rules }
        result = await store.enqueue({
          source: sourceId,
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
      if (result.duplicate) return { status: 200, body: { event: eventId, duplicate: true, ...notices } }
      if (result.queued > 0) deps.onQueued?.()
      return { status: 202, body: { event: eventId, secrets: secrets.length, ...notices } }
    },
  }
}
