import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { isRelayError } from '../../src/errors.js'
import { createVerifier } from '../../src/verify/registry.js'
import type { Verifier } from '../../src/verify/types.js'
import {
  type FakeGoogleIssuer,
  pushEnvelope,
  startGoogleIssuer,
  strangerKey,
  versionEvent,
} from '../support/fake-pubsub.js'

const AUD = 'https://relay.example.com/hooks/gcp'
const PUSHER = 'relay-push@demo-project.iam.gserviceaccount.com'
const SECRET = 'projects/demo-project/secrets/db-password'
let google: FakeGoogleIssuer
let verifier: Verifier

beforeAll(async () => {
  google = await startGoogleIssuer()
  verifier = createVerifier(
    verifySchema.parse({
      type: 'google-pubsub',
      audience: [AUD, 'other-audience'],
      serviceAccounts: ['someone@demo-project.iam.gserviceaccount.com', PUSHER],
      jwksUrl: google.jwksUrl,
    }),
  )
})
afterAll(async () => {
  verifier.close?.()
  await google.close()
})

async function verify(body: string, token: string | undefined, extra: Record<string, string> = {}) {
  const headers = {
    'content-type': 'application/json',
    ...extra,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  }
  return verifier.verify({ headers, body: Buffer.from(body), now: Date.now() })
}

async function refusal(body: string, token: string | undefined, extra: Record<string, string> = {}) {
  const err = await verify(body, token, extra).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isRelayError(err)) throw new Error(`expected a refusal, got ${String(err)}`)
  return err
}

describe('google-pubsub verifier', () => {
  it('unwraps a push: decoded data, attributes, messageId as event id, publishTime as event time', async () => {
    const publishTime = new Date('2030-01-02T03:04:05.678Z')
    const body = pushEnvelope({ ...versionEvent(SECRET, 7), messageId: '42', publishTime })
    const got = await verify(body, await google.token({ aud: AUD, email: PUSHER }))
    expect(got.eventId).toBe('42')
    expect(got.eventTime).toBe(publishTime.getTime())
    expect(got.keyId).toBe(`jwks kid:${google.key.kid}`)
    expect(got.handled).toBeUndefined()
    const payload = got.payload as { message: { attributes: Record<string, string>; data: { name: string } } }
    expect(payload.message.attributes.eventType).toBe('SECRET_VERSION_ADD')
    expect(payload.message.data.name).toBe(`${SECRET}/versions/7`)
  })

  it('accepts the issuer without https:// and either audience', async () => {
    const token = await google.token({ aud: 'other-audience', email: PUSHER, iss: 'accounts.google.com' })
    await expect(verify(pushEnvelope(versionEvent(SECRET, 1)), token)).resolves.toMatchObject({
      eventId: expect.any(String),
    })
  })

  it('acknowledges TOPIC_CONFIGURED as handled', async () => {
    const body = pushEnvelope({ attributes: { eventType: 'TOPIC_CONFIGURED' } })
    const got = await verify(body, await google.token({ aud: AUD, email: PUSHER }))
    expect(got.handled).toMatch(/TOPIC_CONFIGURED/)
  })

  it('refuses a missing token, a wrong audience, another service account, an unverified email', async () => {
    const body = pushEnvelope(versionEvent(SECRET, 1))
    expect((await refusal(body, undefined)).code).toBe('ERR_SIGNATURE_MISSING')
    const wrongAud = await google.token({ aud: 'https://elsewhere.example', email: PUSHER })
    expect((await refusal(body, wrongAud)).message).toBe('audience mismatch')
    const other = await google.token({ aud: AUD, email: 'intruder@evil-project.iam.gserviceaccount.com' })
    expect((await refusal(body, other)).code).toBe('ERR_CLAIM_MISMATCH')
    const unverified = await google.token({ aud: AUD, email: PUSHER, email_verified: false })
    expect((await refusal(body, unverified)).code).toBe('ERR_CLAIM_MISMATCH')
  })

  it('refuses an expired token, another issuer, and a stranger signing with the right kid', async () => {
    const body = pushEnvelope(versionEvent(SECRET, 1))
    const past = Math.floor(Date.now() / 1000) - 7200
    const expired = await google.token({ aud: AUD, email: PUSHER, iat: past, exp: past + 3600 })
    expect((await refusal(body, expired)).code).toBe('ERR_TIMESTAMP_STALE')
    const issuer = await google.token({ aud: AUD, email: PUSHER, iss: 'https://evil.example' })
    expect((await refusal(body, issuer)).message).toBe('issuer mismatch')
    const stranger = await google.token({ aud: AUD, email: PUSHER }, await strangerKey(google.key.kid))
    expect((await refusal(body, stranger)).status).toBe(401)
  })

  it('refuses a "no wrapper" push with a problem naming the fix', async () => {
    const token = await google.token({ aud: AUD, email: PUSHER })
    const raw = JSON.stringify({ name: `${SECRET}/versions/1`, state: 'ENABLED' })
    const err = await refusal(raw, token, { 'x-goog-pubsub-message-id': '1' })
    expect(err.status).toBe(400)
    expect(err.message).toMatch(/--push-no-wrapper/)
    const notJson = await refusal('opaque bytes', token)
    expect(notJson.status).toBe(400)
    expect(notJson.message).toMatch(/no-wrapper/)
  })

  it('refuses an envelope without messageId or publishTime', async () => {
    const token = await google.token({ aud: AUD, email: PUSHER })
    const noId = JSON.stringify({ message: { publishTime: new Date().toISOString() } })
    expect((await refusal(noId, token)).message).toMatch(/messageId/)
    const noTime = JSON.stringify({ message: { messageId: '1' } })
    expect((await refusal(noTime, token)).message).toMatch(/publishTime/)
  })

  it('takes several service accounts, at least one, as emails', () => {
    expect(() => verifySchema.parse({ type: 'google-pubsub', audience: AUD, serviceAccounts: [] })).toThrow()
    expect(() =>
      verifySchema.parse({ type: 'google-pubsub', audience: AUD, serviceAccounts: ['nope'] }),
    ).toThrow()
    const parsed = verifySchema.parse({ type: 'google-pubsub', audience: AUD, serviceAccounts: [PUSHER] })
    expect(parsed).toMatchObject({ jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs' })
  })
})
