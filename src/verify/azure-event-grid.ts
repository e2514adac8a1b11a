// Azure Event Grid webhooks: an Entra token or a query secret, both schemas (Event Grid and CloudEvents 1.0),
// and both handshakes (SubscriptionValidation answered 200 with its code; the CloudEvents OPTIONS preflight).
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { parseJsonBody, secretIndexOf } from './compare.js'
import { createEntraVerifier } from './entra.js'
import type { JwtDeps } from './jwt.js'
import type { Headers, Verified, VerifiedEvent, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of an Azure Event Grid source. */
export type AzureEventGridConfig = Extract<VerifyConfig, { type: 'azure-event-grid' }>

const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent'
const DELETION_EVENT = 'Microsoft.EventGrid.SubscriptionDeletedEvent'
const CLOUDEVENTS = 'application/cloudevents+json'
const CLOUDEVENTS_BATCH = 'application/cloudevents-batch+json'

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (o: Json, key: string): string | undefined => {
  const v = Object.hasOwn(o, key) ? o[key] : undefined
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** One event of either schema: Event Grid (`eventType`, `eventTime`) or CloudEvents (`type`, `time`). */
function readEvent(e: unknown, cloudEvents: boolean, notices: ReadonlySet<string>): VerifiedEvent {
  if (!isObject(e)) throw new RelayError('ERR_BODY_INVALID', 'an event is not a JSON object')
  const type = str(e, cloudEvents ? 'type' : 'eventType')
  const id = str(e, 'id')
  if (type === undefined || id === undefined)
    throw new RelayError('ERR_BODY_INVALID', `an event has no id or ${cloudEvents ? 'type' : 'eventType'}`)
  if (cloudEvents && str(e, 'specversion') !== '1.0')
    throw new RelayError('ERR_BODY_INVALID', 'a CloudEvent is not specversion 1.0')
  const time = Date.parse(str(e, cloudEvents ? 'time' : 'eventTime') ?? '')
  return {
    payload: e,
    eventId: id,
    ...(Number.isFinite(time) ? { eventTime: time } : {}),
    ...(notices.has(type) ? { notice: type } : {}),
  }
}

/** The events of a body: a CloudEvent, a CloudEvents batch, or an Event Grid array. */
function readEvents(headers: Headers, body: Buffer, notices: ReadonlySet<string>) {
  const contentType = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  const doc = parseJsonBody(body)
  if (contentType === CLOUDEVENTS) return { cloudEvents: true, events: [readEvent(doc, true, notices)] }
  if (!Array.isArray(doc) || doc.length === 0) {
    const what = contentType === CLOUDEVENTS_BATCH ? 'CloudEvents batch' : 'Event Grid delivery'
    throw new RelayError('ERR_BODY_INVALID', `a ${what} must be a non-empty JSON array`)
  }
  const cloudEvents = contentType === CLOUDEVENTS_BATCH
  return { cloudEvents, events: doc.map((e) => readEvent(e, cloudEvents, notices)) }
}

/** Event Grid's own exchanges (Event Grid schema only): validation answered with its code, deletion noted. */
function handshake(headers: Headers, events: VerifiedEvent[]): Verified | undefined {
  const aeg = header(headers, 'aeg-event-type')
  const first = events[0]!.payload as Json
  const type = str(first, 'eventType')
  if (aeg === 'SubscriptionValidation' || type === VALIDATION_EVENT) {
    const data = first.data
    const code = isObject(data) ? str(data, 'validationCode') : undefined
    if (events.length !== 1 || type !== VALIDATION_EVENT || code === undefined)
      throw new RelayError('ERR_BODY_INVALID', 'not a subscription validation event')
    return { payload: first, handled: 'subscription validation', answer: { validationResponse: code } }
  }
  if (aeg === 'SubscriptionDeletion' || type === DELETION_EVENT)
    return events.length === 1 && type === DELETION_EVENT
      ? { payload: first, handled: 'subscription deleted' }
      : undefined
  return undefined
}

/** An Event Grid verifier also answers the CloudEvents abuse-protection preflight. */
export type EventGridVerifier = Verifier & Required<Pick<Verifier, 'preflight'>>

/**
 * Verifies Event Grid deliveries. With `entra`, a valid Entra token is required; with `querySecrets`, one
 * of them in the query string (constant time); with both, both. The payload rules see is the event
 * itself (Event Grid: `/eventType`, `/data/Id`; CloudEvents: `/type`, `/data/Id`); a batch of several
 * events is returned as `events`, each with its own id and time. Event types in `notices` are marked so
 * that they are counted and logged, never mapped.
 */
export function createAzureEventGridVerifier(
  config: AzureEventGridConfig,
  deps: JwtDeps = {},
): EventGridVerifier {
  const entra = config.entra === undefined ? undefined : createEntraVerifier(config.entra, deps)
  const notices = new Set(config.notices)

  /** `querySecrets[i]` when the query carries one of them; throws otherwise. */
  function querySecret(query: string | undefined): string | undefined {
    const secrets = config.querySecrets
    if (secrets === undefined) return undefined
    const given = new URLSearchParams(query ?? '').getAll(config.queryParameter)
    if (given.length === 0) throw new RelayError('ERR_SIGNATURE_MISSING', 'missing query secret')
    const i = given.length === 1 ? secretIndexOf(given[0]!, secrets) : -1
    if (i < 0) throw new RelayError('ERR_SIGNATURE_INVALID', 'query secret does not match')
    return `querySecrets[${i}]`
  }

  return {
    async verify(input: VerifyInput): Promise<Verified> {
      const secretId = querySecret(input.query)
      const tokenId = entra === undefined ? undefined : (await entra.verify(input)).keyId
      const keyId = [tokenId, secretId].filter((k) => k !== undefined).join(', ')
      const { cloudEvents, events } = readEvents(input.headers, input.body, notices)
      const handled = cloudEvents ? undefined : handshake(input.headers, events)
      if (handled !== undefined) return { ...handled, keyId }
      if (events.length === 1) return { ...events[0]!, keyId }
      return { payload: events.map((e) => e.payload), events, keyId }
    },
    /**
     * CloudEvents webhook abuse protection: allow the origin that asks. The query secret is checked when
     * configured (it is part of the endpoint URL); a token is not required, as the preflight carries none.
     */
    async preflight({ headers, query }) {
      querySecret(query)
      const origin = header(headers, 'webhook-request-origin')?.trim()
      if (origin === undefined || origin === '' || !/^[A-Za-z0-9.-]{1,253}$/.test(origin))
        throw new RelayError('ERR_BAD_REQUEST', 'WebHook-Request-Origin missing or not a host name')
      return {
        'webhook-allowed-origin': origin,
        'webhook-allowed-rate': config.allowedRate === undefined ? '*' : String(config.allowedRate),
        allow: 'POST',
      }
    },
    close: () => entra?.close?.(),
  }
}
