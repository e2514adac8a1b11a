// Signing a test event as a source's provider would (`vault-relay send`), with the source's own configured
// secrets; the test signers reuse the primitives. Schemes where the relay holds only public keys cannot sign.
import { createHmac, createSecretKey, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { SourceConfig } from '../config/schema.js'
import { signStandardWebhook } from '../verify/standard-webhooks.js'
import { signGooglePush } from './sign-google.js'

type Body = string | Uint8Array

/** Stripe's `v1` signature: hex HMAC-SHA256 of `${t}.${body}` keyed with the whole `whsec_` string. */
export function stripeSignature(secret: string, t: number, body: Body): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')
}

/** A `v1,<base64>` Standard Webhooks HMAC signature (the relay's notifications sign with the same). */
export const standardWebhookSignature = signStandardWebhook

/** Options of a generic HMAC signature, as the `hmac` verifier is configured. */
export interface HmacOptions {
  algorithm?: 'sha256' | 'sha512' | 'sha1'
  encoding?: 'hex' | 'base64'
  keyEncoding?: 'utf8' | 'base64'
  prefix?: string
}

/** A generic HMAC header value: `prefix` + HMAC of the body (GitHub: sha256, hex, `sha256=`). */
export function hmacSignature(secret: string, body: Body, o: HmacOptions = {}): string {
  const key = o.keyEncoding === 'base64' ? Buffer.from(secret, 'base64') : Buffer.from(secret, 'utf8')
  const mac = createHmac(o.algorithm ?? 'sha256', key).update(body)
  return (o.prefix ?? '') + mac.digest(o.encoding ?? 'hex')
}

/** An `Authorization: Basic` value. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/** A request ready to post to `/hooks/{source}`, or why this source's scheme cannot be signed here. */
export type SignedRequest =
  | { headers: Record<string, string>; body: string; query?: string }
  | { cannotSign: string }

/** What `send` may add: `key`, a local private key's text (google-pubsub against a local issuer). */
export interface SignOptions {
  key?: string
}

/**
 * Signs `payload` (the JSON text of the event) with the first configured secret of `source`, at `now`
 * (epoch ms). For `jwt` the payload holds the claims; only a shared (`oct`) key can sign. For
 * `google-pubsub` only `options.key` can (a local issuer's key): the relay owns no Google key.
 */
export async function signTestEvent(
  source: SourceConfig,
  payload: string,
  now: number,
  options: SignOptions = {},
): Promise<SignedRequest> {
  const v = source.verify
  if (v === undefined)
    return { cannotSign: 'the source is pull-only (reconcile, no verify): it takes no webhooks' }
  const t = Math.floor(now / 1000)
  switch (v.type) {
    case 'stripe':
      return {
        body: payload,
        headers: { ...json(), 'stripe-signature': `t=${t},v1=${stripeSignature(v.secrets[0]!, t, payload)}` },
      }
    case 'standard-webhooks': {
      const secret = v.secrets[0]
      if (secret === undefined)
        return { cannotSign: 'only Ed25519 publicKeys are configured: the provider holds the private key' }
      const id = `msg_${randomUUID()}`
      return {
        body: payload,
        headers: {
          ...json(),
          [`${v.headerPrefix}-id`]: id,
          [`${v.headerPrefix}-timestamp`]: String(t),
          [`${v.headerPrefix}-signature`]: standardWebhookSignature(secret, id, t, payload),
        },
      }
    }
    case 'hmac':
      return {
        body: payload,
        headers: { ...json(), [v.header.toLowerCase()]: hmacSignature(v.secrets[0]!, payload, v) },
      }
    case 'api-key':
      return { body: payload, headers: { ...json(), [v.header.toLowerCase()]: v.keys[0]! } }
    case 'basic': {
      const pair = v.credentials[0]!
      const colon = pair.indexOf(':')
      return {
        body: payload,
        headers: {
          ...json(),
          authorization: basicAuthorization(pair.slice(0, colon), pair.slice(colon + 1)),
        },
      }
    }
    case 'jwt':
      return signJwt(v, payload, now)
    case 'aws-sns':
      return { cannotSign: 'AWS signs SNS messages with its own certificate; the relay holds no signing key' }
    case 'azure-event-grid':
      return eventGridRequest(v, payload)
    case 'google-pubsub':
      return signGooglePush(v, payload, now, options.key)
  }
}

async function signJwt(
  v: Extract<SourceConfig['verify'], { type: 'jwt' }>,
  payload: string,
  now: number,
): Promise<SignedRequest> {
  const oct = (v.keys ?? []).find(
    (k): k is Record<string, unknown> => typeof k === 'object' && k.kty === 'oct' && typeof k.k === 'string',
  )
  const alg = v.algorithms.find((a) => /^HS(256|384|512)$/.test(a))
  if (oct === undefined || alg === undefined) {
    return {
      cannotSign: 'only public keys (keys or jwksUrl) are configured: the provider holds the private key',
    }
  }
  const claims = v.in === 'body' ? (JSON.parse(payload) as Record<string, unknown>) : {}
  const iat = Math.floor(now / 1000)
  const token = await new SignJWT(v.in === 'body' ? { jti: randomUUID(), ...v.claims, ...claims } : v.claims)
    .setProtectedHeader({ alg, ...(typeof oct.kid === 'string' ? { kid: oct.kid } : {}) })
    .setIssuer([v.issuer].flat()[0]!)
    .setAudience([v.audience].flat()[0]!)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 300)
    .sign(createSecretKey(Buffer.from(oct.k as string, 'base64url')))
  if (v.in === 'body') return { body: token, headers: { 'content-type': 'application/jwt' } }
  return { body: payload, headers: { ...json(), authorization: `Bearer ${token}` } }
}

/**
 * An Event Grid delivery with the first query secret: a JSON object with `specversion` is posted as a
 * CloudEvent, anything else (an array of events) as the Event Grid schema.
 */
function eventGridRequest(
  v: Extract<SourceConfig['verify'], { type: 'azure-event-grid' }>,
  payload: string,
): SignedRequest {
  if (v.entra !== undefined)
    return {
      cannotSign:
        'Microsoft Entra signs Event Grid tokens and the relay holds no Entra key (a source with only querySecrets can be sent to)',
    }
  const doc = JSON.parse(payload) as unknown
  const cloudEvent = typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'specversion' in doc
  return {
    body: payload,
    headers: cloudEvent
      ? { 'content-type': 'application/cloudevents+json; charset=utf-8' }
      : { ...json(), 'aeg-event-type': 'Notification' },
    query: `${encodeURIComponent(v.queryParameter)}=${encodeURIComponent(v.querySecrets![0]!)}`,
  }
}

const json = () => ({ 'content-type': 'application/json' })
