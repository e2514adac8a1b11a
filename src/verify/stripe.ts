// Stripe webhooks: `Stripe-Signature: t=…,v1=…`, HMAC-SHA256 over `t.body` keyed with the whole whsec_ string.
import { createHmac } from 'node:crypto'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { bytesEqual, decodeHex, field, parseJsonBody, secondsToMs, withinTolerance } from './compare.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a Stripe source. */
export type StripeConfig = Extract<VerifyConfig, { type: 'stripe' }>

/** The name of the header Stripe signs with. */
export const STRIPE_SIGNATURE_HEADER = 'stripe-signature'

interface StripeSignature {
  timestamp: number
  /** Every `v1` signature, decoded; undefined where one is not hex (it can never match). */
  v1: (Buffer | undefined)[]
}

/**
 * Parses `t=<unix>,v1=<hex>[,v1=<hex>…]`. Schemes other than `v1` (such as test-mode `v0`) are ignored so
 * a request cannot downgrade; undefined when the header has no single numeric `t` or no `v1`.
 */
export function parseStripeSignature(value: string): StripeSignature | undefined {
  let timestamp: number | undefined
  const v1: (Buffer | undefined)[] = []
  for (const item of value.split(',')) {
    if (item.trim() === '') continue
    const eq = item.indexOf('=')
    if (eq <= 0) return undefined
    const key = item.slice(0, eq).trim()
    const text = item.slice(eq + 1).trim()
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(text)) return undefined
      timestamp = Number(text)
    } else if (key === 'v1') {
      v1.push(decodeHex(text))
    }
  }
  return timestamp === undefined || v1.length === 0 ? undefined : { timestamp, v1 }
}

/**
 * Verifies Stripe webhooks: any `v1` signature made with any configured secret passes (so a secret can be
 * rolled), then the timestamp must be within ± `toleranceSeconds`. The payload is the JSON event; its `id`
 * is the event id and `created` the event time.
 */
export function createStripeVerifier(config: StripeConfig): Verifier {
  const secrets = config.secrets.map((secret) => Buffer.from(secret, 'utf8'))

  return {
    async verify({ headers, body, now }: VerifyInput): Promise<Verified> {
      const value = header(headers, STRIPE_SIGNATURE_HEADER)
      if (value === undefined || value.trim() === '') {
        throw new RelayError('ERR_SIGNATURE_MISSING', 'missing stripe-signature header')
      }
      const signature = parseStripeSignature(value)
      if (signature === undefined) {
        throw new RelayError('ERR_SIGNATURE_INVALID', 'malformed stripe-signature header')
      }

      const matched = secrets.findIndex((secret) => {
        const expected = createHmac('sha256', secret).update(`${signature.timestamp}.`).update(body).digest()
        return signature.v1.some((given) => given !== undefined && bytesEqual(given, expected))
      })
      if (matched < 0) throw new RelayError('ERR_SIGNATURE_INVALID', 'no v1 signature matched')
      if (!withinTolerance(signature.timestamp, now, config.toleranceSeconds)) {
        throw new RelayError('ERR_TIMESTAMP_STALE', 'timestamp outside tolerance')
      }

      const payload = parseJsonBody(body)
      const id = field(payload, 'id')
      const eventTime = secondsToMs(field(payload, 'created'))
      return {
        payload,
        keyId: `secrets[${matched}]`,
        ...(typeof id === 'string' && id !== '' ? { eventId: id } : {}),
        ...(eventTime === undefined ? {} : { eventTime }),
      }
    },
  }
}
