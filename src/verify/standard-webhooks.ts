// Standard Webhooks (and Svix): `v1,` HMAC-SHA256 and `v1a,` Ed25519 signatures over `id.timestamp.body`.
import { createHmac, createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { bytesEqual, decodeBase64, parseJsonBody, withinTolerance } from './compare.js'
import type { Headers, Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a Standard Webhooks source. */
export type StandardWebhooksConfig = Extract<VerifyConfig, { type: 'standard-webhooks' }>

/** More entries than this in one signature header are refused, so a request cannot buy many Ed25519 checks. */
const MAX_SIGNATURES = 16

/** Turns a `whsec_<base64>` (or bare base64) secret into its HMAC key; throws naming only the index. */
function hmacKey(secret: string, index: number): Buffer {
  const key = decodeBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret)
  if (key === undefined)
    throw new Error(`standard-webhooks: secrets[${index}] is not whsec_ followed by base64`)
  return key
}

/** Turns a `whpk_<base64>` (or bare base64) raw 32-byte Ed25519 public key into a KeyObject. */
function publicKey(text: string, index: number): KeyObject {
  const raw = decodeBase64(text.startsWith('whpk_') ? text.slice('whpk_'.length) : text)
  if (raw?.length !== 32)
    throw new Error(`standard-webhooks: publicKeys[${index}] is not a 32-byte Ed25519 key`)
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
}

/**
 * A `v1,<base64>` signature of `id.timestamp.body` with a `whsec_` secret: what a Standard Webhooks sender
 * puts in `webhook-signature` (the relay's own notifications, and `vault-relay send`). Throws, naming no
 * secret, when `secret` is not whsec_ and base64.
 */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  const mac = createHmac('sha256', hmacKey(secret, 0)).update(`${id}.${timestamp}.`).update(body)
  return `v1,${mac.digest('base64')}`
}

/**
 * Verifies Standard Webhooks requests: any `v1` signature made with any secret, or any `v1a` signature made
 * by any public key, passes; then the timestamp must be within ± `toleranceSeconds`. The event id is the
 * `<prefix>-id` header and the event time the signed timestamp; the payload is the JSON body.
 */
export function createStandardWebhooksVerifier(config: StandardWebhooksConfig): Verifier {
  const keys = config.secrets.map(hmacKey)
  const publicKeys = config.publicKeys.map(publicKey)
  const setOf = (prefix: string) => ({
    id: `${prefix}-id`,
    timestamp: `${prefix}-timestamp`,
    signature: `${prefix}-signature`,
  })
  const preferred = setOf(config.headerPrefix)
  const other = setOf(config.headerPrefix === 'svix' ? 'webhook' : 'svix')
  /** The set's three headers, and the name of the first that is missing or blank. */
  const read = (headers: Headers, names: typeof preferred) => {
    const got = {
      id: header(headers, names.id),
      timestamp: header(headers, names.timestamp),
      signature: header(headers, names.signature),
    }
    const blank = (['id', 'timestamp', 'signature'] as const).find((k) => (got[k] ?? '').trim() === '')
    return { names, ...got, missing: blank === undefined ? undefined : names[blank] }
  }
  /**
   * The header set to read: the configured one when it is complete, else the other one when that is
   * (as Svix's libraries read svix-* then webhook-*), never a mix; missing ones are named by the configured set.
   */
  const readHeaders = (headers: Headers) => {
    const first = read(headers, preferred)
    if (first.missing === undefined) return first
    const second = read(headers, other)
    return second.missing === undefined ? second : first
  }

  return {
    async verify({ headers, body, now }: VerifyInput): Promise<Verified> {
      const { names, id, timestamp, signature: signatures, missing } = readHeaders(headers)
      if (missing !== undefined) throw new RelayError('ERR_SIGNATURE_MISSING', `missing ${missing} header`)
      // The spec forbids a '.' in the id, which would make `id.timestamp.body` ambiguous.
      if (id === undefined || id.includes('.'))
        throw new RelayError('ERR_SIGNATURE_INVALID', `malformed ${names.id} header`)
      if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
        throw new RelayError('ERR_SIGNATURE_INVALID', `malformed ${names.timestamp} header`)
      }
      const entries = (signatures ?? '').trim().split(/\s+/)
      if (entries.length > MAX_SIGNATURES)
        throw new RelayError('ERR_SIGNATURE_INVALID', 'too many signatures')

      const parsed = entries.flatMap((entry) => {
        const comma = entry.indexOf(',')
        const given = comma > 0 ? decodeBase64(entry.slice(comma + 1)) : undefined
        return given === undefined ? [] : [{ version: entry.slice(0, comma), given }]
      })
      if (parsed.length === 0)
        throw new RelayError('ERR_SIGNATURE_INVALID', `malformed ${names.signature} header`)

      const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body])
      const macs = keys.map((key) => createHmac('sha256', key).update(content).digest())
      let matched: string | undefined
      for (const { version, given } of parsed) {
        const i =
          version === 'v1'
            ? macs.findIndex((mac) => bytesEqual(given, mac))
            : version === 'v1a' && given.length === 64
              ? publicKeys.findIndex((key) => verifySignature(null, content, key, given))
              : -1
        if (i >= 0) {
          matched = version === 'v1' ? `secrets[${i}]` : `publicKeys[${i}]`
          break
        }
      }
      if (matched === undefined) throw new RelayError('ERR_SIGNATURE_INVALID', 'no signature matched')
      const seconds = Number(timestamp)
      if (!withinTolerance(seconds, now, config.toleranceSeconds)) {
        throw new RelayError('ERR_TIMESTAMP_STALE', 'timestamp outside tolerance')
      }
      return { payload: parseJsonBody(body), eventId: id, eventTime: seconds * 1000, keyId: matched }
    },
  }
}
