// Pub/Sub push: the push service account's Google-signed ID token (a jwt verifier underneath, so one JWKS
// cache), then the push envelope unwrapped so rules see the decoded message.
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { createJwtVerifier, type JwtConfig, type JwtDeps } from './jwt.js'
import type { Headers, Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a `google-pubsub` source. */
export type GooglePubsubConfig = Extract<VerifyConfig, { type: 'google-pubsub' }>

/** The test message Pub/Sub publishes when a secret's topics change: acknowledged, never mapped. */
export const TOPIC_CONFIGURED = 'TOPIC_CONFIGURED'

const NO_WRAPPER =
  'not a Pub/Sub push envelope {"message": {…}, "subscription": …}: the subscription must wrap messages (create it without --push-no-wrapper)'

/**
 * The jwt configuration a push token is checked with: Google signs ID tokens with RS256 only; `email`
 * must be one of the push service accounts and verified by Google (`email_verified: true`).
 */
export function pubsubJwtConfig(config: GooglePubsubConfig): JwtConfig {
  return {
    type: 'jwt',
    in: 'header',
    jwksUrl: config.jwksUrl,
    issuer: config.issuer,
    audience: config.audience,
    algorithms: ['RS256'],
    claims: { email: config.serviceAccounts, email_verified: true },
    clockToleranceSeconds: config.clockToleranceSeconds,
    requireIssuedAt: true,
    requireExpiry: true,
    keyManagementAlgorithms: [],
    contentEncryptionAlgorithms: [],
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** `camelCase` as Pub/Sub sends it, or its `snake_case` twin (both are sent). */
function either(message: Record<string, unknown>, camel: string, snake: string): unknown {
  return Object.hasOwn(message, camel)
    ? message[camel]
    : Object.hasOwn(message, snake)
      ? message[snake]
      : undefined
}

/** The base64 `data` decoded: its JSON when it is JSON (Secret Manager's resources are), else its text. */
function decodeData(data: unknown): unknown {
  if (data === undefined || data === '') return undefined
  if (typeof data !== 'string')
    throw new RelayError('ERR_BODY_INVALID', 'push message data is not base64 text')
  const text = Buffer.from(data, 'base64').toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The push envelope as rules see it: `{subscription, message: {attributes, data, messageId,
 * publishTime, orderingKey?, deliveryAttempt?}}` with `data` decoded (see `decodeData`); event id is
 * the messageId, event time the publishTime. Throws ERR_BODY_INVALID for anything else (a "no wrapper"
 * push: the raw data as the body), naming the fix.
 */
export function unwrapPush(payload: unknown, headers: Headers): Verified {
  if (!isObject(payload) || !isObject(payload.message)) {
    const raw =
      header(headers, 'x-goog-pubsub-message-id') !== undefined ? ' (this is a "no wrapper" push)' : ''
    throw new RelayError('ERR_BODY_INVALID', `${NO_WRAPPER}${raw}`)
  }
  const m = payload.message
  const messageId = either(m, 'messageId', 'message_id')
  if (typeof messageId !== 'string' || messageId === '')
    throw new RelayError('ERR_BODY_INVALID', 'push message has no messageId')
  const publishTime = either(m, 'publishTime', 'publish_time')
  const eventTime = typeof publishTime === 'string' ? Date.parse(publishTime) : Number.NaN
  if (!Number.isFinite(eventTime))
    throw new RelayError('ERR_BODY_INVALID', 'push message has no RFC 3339 publishTime')
  const attributes = m.attributes ?? {}
  if (!isObject(attributes))
    throw new RelayError('ERR_BODY_INVALID', 'push message attributes are not an object')
  const message: Record<string, unknown> = { attributes, messageId, publishTime }
  const data = decodeData(m.data)
  if (data !== undefined) message.data = data
  const orderingKey = either(m, 'orderingKey', 'ordering_key')
  if (orderingKey !== undefined) message.orderingKey = orderingKey
  if (m.deliveryAttempt !== undefined) message.deliveryAttempt = m.deliveryAttempt
  const decoded = { subscription: payload.subscription, message }
  const verified: Verified = { payload: decoded, eventId: messageId, eventTime }
  if (attributes.eventType === TOPIC_CONFIGURED)
    verified.handled = 'TOPIC_CONFIGURED test message acknowledged'
  return verified
}

/**
 * Verifies a Pub/Sub push: `Authorization: Bearer <ID token>` (RS256, Google's issuer, one of
 * `audience`, `email` one of `serviceAccounts` with `email_verified`, keys from `jwksUrl` cached and
 * refetched on an unknown kid), then the envelope unwrapped (`unwrapPush`).
 */
export function createGooglePubsubVerifier(config: GooglePubsubConfig, deps: JwtDeps = {}): Verifier {
  const jwt = createJwtVerifier(pubsubJwtConfig(config), deps)
  return {
    async verify(input: VerifyInput): Promise<Verified> {
      let verified: Verified
      try {
        verified = await jwt.verify(input)
      } catch (err) {
        // The token was good; the body is no JSON envelope (a "no wrapper" push of non-JSON data).
        if (err instanceof RelayError && err.code === 'ERR_BODY_INVALID')
          throw new RelayError('ERR_BODY_INVALID', NO_WRAPPER)
        throw err
      }
      return {
        ...unwrapPush(verified.payload, input.headers),
        ...(verified.keyId ? { keyId: verified.keyId } : {}),
      }
    },
    close: () => jwt.close?.(),
  }
}
