// Signing a test Pub/Sub push (`vault-relay send --key`): Google holds its own keys, so only a local key
// whose public half the source's jwksUrl serves (a local issuer, for testing) can sign one.
import { createPrivateKey, randomInt } from 'node:crypto'
import { SignJWT } from 'jose'
import type { SourceConfig } from '../config/schema.js'

type PubsubVerify = Extract<SourceConfig['verify'], { type: 'google-pubsub' }>
/** A signed push, or why not (sign.ts's SignedRequest, spelled here so the two files import one way). */
type SignedPush = { headers: Record<string, string>; body: string } | { cannotSign: string }

/** Why a google-pubsub source cannot be signed without `--key`. */
const NO_GOOGLE_KEY =
  'Google signs push tokens with its own keys and the relay owns none: to test against a local issuer, pass --key with a private RSA key (PEM, or a JWK with its kid) whose public half the source jwksUrl serves'

/**
 * The push envelope of `payload`: as it is when it holds `message`, else `payload` is the message
 * (`attributes`, `data`): a `data` that is not a string is sent as base64 of its JSON, as Secret Manager
 * publishes its resources; messageId and publishTime are made up when missing.
 */
function pushBody(payload: string, now: number): string {
  const doc = JSON.parse(payload) as Record<string, unknown>
  if (typeof doc === 'object' && doc !== null && 'message' in doc) return payload
  const message: Record<string, unknown> = { ...doc }
  if (message.data !== undefined && typeof message.data !== 'string')
    message.data = Buffer.from(JSON.stringify(message.data)).toString('base64')
  message.messageId ??= String(randomInt(2 ** 47))
  message.publishTime ??= new Date(now).toISOString()
  return JSON.stringify({ message, subscription: 'projects/test/subscriptions/vault-relay-send' })
}

/** Signs a push as the source's first service account, for its first audience and issuer, with `keyText`. */
export async function signGooglePush(
  v: PubsubVerify,
  payload: string,
  now: number,
  keyText: string | undefined,
): Promise<SignedPush> {
  if (keyText === undefined) return { cannotSign: NO_GOOGLE_KEY }
  let kid: string | undefined
  let key: ReturnType<typeof createPrivateKey>
  try {
    const trimmed = keyText.trim()
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as { kid?: unknown }
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined
      key = createPrivateKey({ key: jwk as never, format: 'jwk' })
    } else {
      key = createPrivateKey(trimmed)
    }
  } catch {
    return { cannotSign: '--key is not a private key (PEM, or a JWK)' }
  }
  if (key.asymmetricKeyType !== 'rsa')
    return { cannotSign: '--key must be an RSA key: Google signs with RS256' }
  const iat = Math.floor(now / 1000)
  const token = await new SignJWT({ email: v.serviceAccounts[0], email_verified: true })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
    .setIssuer([v.issuer].flat()[0]!)
    .setAudience([v.audience].flat()[0]!)
    .setSubject('vault-relay-send')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(key)
  return {
    body: pushBody(payload, now),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  }
}
