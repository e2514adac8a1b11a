// A Pub/Sub push sender stand-in: ID tokens signed by a key the test owns, its JWKS on loopback, and push
// envelopes in the wire format (wrapped, base64 data, both spellings of the ids).
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { generateSigningKey, type JwksServer, type SigningKey, startJwksServer } from './signers.js'

/** A Google-like issuer: RS256 key(s), a JWKS URL, an issuer name. */
export interface FakeGoogleIssuer {
  issuer: string
  jwksUrl: string
  key: SigningKey
  jwks: JwksServer
  /** Signs an ID token as Google does for a push subscription; `claims` override any default claim. */
  token(claims: { aud: string; email: string } & Record<string, unknown>, key?: SigningKey): Promise<string>
  close(): Promise<void>
}

/** Starts an issuer whose JWKS (on 127.0.0.1) serves one RS256 key. */
export async function startGoogleIssuer(issuer = 'https://accounts.google.com'): Promise<FakeGoogleIssuer> {
  const key = await generateSigningKey('RS256')
  const jwks = await startJwksServer([key.publicJwk])
  return {
    issuer,
    jwksUrl: jwks.url,
    key,
    jwks,
    async token(claims, signer = key) {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({
        iss: issuer,
        email_verified: true,
        sub: '1234567890',
        iat: now,
        exp: now + 3600,
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: 'JWT' })
        .sign(signer.privateKey)
    },
    close: () => jwks.close(),
  }
}

/** A key a stranger owns, presenting itself under `kid` (the issuer's kid, to prove kid alone is no trust). */
export async function strangerKey(kid: string): Promise<SigningKey> {
  return generateSigningKey('RS256', kid)
}

/** What one pushed message says. */
export interface PushMessage {
  attributes?: Record<string, string>
  /** JSON to base64 (a Secret Manager resource), or raw text. */
  data?: unknown
  messageId?: string
  publishTime?: string | Date
  subscription?: string
}

/** The body Pub/Sub POSTs for a wrapped push subscription. */
export function pushEnvelope(m: PushMessage): string {
  const messageId = m.messageId ?? String(Math.floor(Math.random() * 1e16))
  const publishTime = (
    m.publishTime instanceof Date ? m.publishTime : new Date(m.publishTime ?? Date.now())
  ).toISOString()
  const message: Record<string, unknown> = {
    attributes: m.attributes ?? {},
    messageId,
    message_id: messageId,
    publishTime,
    publish_time: publishTime,
  }
  if (m.data !== undefined) {
    const text = typeof m.data === 'string' ? m.data : JSON.stringify(m.data)
    message.data = Buffer.from(text).toString('base64')
  }
  return JSON.stringify({
    message,
    subscription: m.subscription ?? 'projects/demo-project/subscriptions/relay-push',
  })
}

/** A Secret Manager version event (`SECRET_VERSION_ADD` unless `eventType` says otherwise). */
export function versionEvent(
  secret: string,
  version: number,
  options: { eventType?: string; createTime?: Date; publishTime?: Date; messageId?: string } = {},
): PushMessage {
  const name = `${secret}/versions/${version}`
  const createTime = (options.createTime ?? new Date()).toISOString()
  return {
    attributes: {
      eventType: options.eventType ?? 'SECRET_VERSION_ADD',
      dataFormat: 'JSON_API_V1',
      secretId: secret,
      timestamp: createTime,
      versionId: name,
    },
    data: { name, createTime, state: 'ENABLED', etag: `"${randomUUID()}"` },
    ...(options.publishTime === undefined ? {} : { publishTime: options.publishTime }),
    ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
  }
}

/** POSTs a push with `Authorization: Bearer <token>` as Pub/Sub does. */
export async function push(
  url: string,
  body: string,
  token: string | undefined,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: res.status, body: parsed }
}
