// The aws-sns verifier against real signatures and a certificate served on loopback.
import { randomUUID } from 'node:crypto'
import { MockAgent, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { FETCH_FAILURE_TTL_MS } from '../../src/http/get.js'
import { createSnsVerifier, type SnsDeps, type SnsVerifyConfig } from '../../src/verify/aws-sns.js'
import type { VerifyInput } from '../../src/verify/types.js'
import {
  AWS_SNS_ORIGIN,
  type FakeSns,
  issueSigner,
  signMessage,
  startFakeSns,
  type TestSigner,
} from '../support/fake-sns.js'

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:rotations'
const CERT_PATH = '/SimpleNotificationService-test.pem'

let sns: FakeSns
let signer: TestSigner
let certUrl: string

beforeAll(async () => {
  sns = await startFakeSns()
  signer = await issueSigner()
  certUrl = sns.serve(CERT_PATH, signer.pem)
})
afterAll(() => sns.close())
beforeEach(() => {
  sns.requests.length = 0
})

/** The verifier with the default certUrlPattern; genuine AWS URLs reach the loopback fake through its dispatcher. */
function verifier(options: Record<string, unknown> = {}, deps: SnsDeps = { dispatcher: sns.dispatcher }) {
  const config = verifySchema.parse({ type: 'aws-sns', topicArns: [TOPIC], ...options })
  return createSnsVerifier(config as SnsVerifyConfig, deps)
}

function notification(message: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: TOPIC,
    Message: message,
    Timestamp: new Date().toISOString(),
    UnsubscribeURL: `${sns.base}/unsubscribe`,
    ...extra,
  }
}

function confirmation(type: string, subscribeUrl: string): Record<string, string> {
  return {
    Type: type,
    MessageId: randomUUID(),
    Token: 'token-123',
    TopicArn: TOPIC,
    Message: 'You have chosen to subscribe to the topic.',
    SubscribeURL: subscribeUrl,
    Timestamp: new Date().toISOString(),
  }
}

function input(
  msg: Record<string, unknown>,
  headers: Record<string, string> = {},
  now = Date.now(),
): VerifyInput {
  return {
    headers: { 'x-amz-sns-message-type': String(msg['Type']), 'x-amz-sns-topic-arn': TOPIC, ...headers },
    body: Buffer.from(JSON.stringify(msg)),
    now,
  }
}

const certFetches = () => sns.requests.filter((p) => p.endsWith('.pem')).length

describe('aws-sns: accepted messages', () => {
  it('accepts a SignatureVersion 1 notification and maps from the SNS message', async () => {
    const msg = signMessage(notification('plain text rotation notice'), signer, certUrl, '1')
    const out = await verifier().verify(input(msg))
    expect(out.payload).toEqual(msg)
    expect(out.eventId).toBe(msg['MessageId'])
    expect(out.eventTime).toBe(Date.parse(msg['Timestamp']!))
    expect(out.handled).toBeUndefined()
  })

  it('accepts a SignatureVersion 2 notification and parses a JSON Message into the payload', async () => {
    const event = {
      'detail-type': 'Secret Label Updated',
      detail: { versionId: 'v-2' },
      resources: ['arn:x'],
    }
    const msg = signMessage(notification(JSON.stringify(event), { Subject: 'rotated' }), signer, certUrl, '2')
    const out = await verifier().verify(input(msg))
    expect(out.payload).toEqual(event)
  })

  it('accepts a message an hour old (SNS retries keep the publish time)', async () => {
    const msg = signMessage(notification('late retry'), signer, certUrl, '2')
    await expect(verifier().verify(input(msg, {}, Date.now() + 60 * 60 * 1000))).resolves.toBeDefined()
  })

  it('fetches a certificate once for several messages, even concurrent ones', async () => {
    const v = verifier()
    const a = signMessage(notification('a'), signer, certUrl, '2')
    const b = signMessage(notification('b'), signer, certUrl, '1')
    await Promise.all([v.verify(input(a)), v.verify(input(b))])
    await v.verify(input(signMessage(notification('c'), signer, certUrl, '2')))
    expect(certFetches()).toBe(1)
  })
})

describe('aws-sns: refused signatures', () => {
  it('refuses a tampered Message', async () => {
    const msg = { ...signMessage(notification('rotate db'), signer, certUrl, '2'), Message: 'rotate all' }
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      status: 401,
    })
  })

  it('refuses a message whose signed Subject was removed', async () => {
    const { Subject: _, ...msg } = signMessage(notification('m', { Subject: 's' }), signer, certUrl, '1')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses a SHA1 signature labelled as SignatureVersion 2', async () => {
    const msg = { ...signMessage(notification('m'), signer, certUrl, '1'), SignatureVersion: '2' }
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses an unknown SignatureVersion without fetching the certificate', async () => {
    const msg = { ...signMessage(notification('m'), signer, certUrl, '2'), SignatureVersion: '3' }
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      status: 401,
    })
    expect(sns.requests).toEqual([])
  })

  it('refuses a signature made by a key other than the certificate’s', async () => {
    const other = await issueSigner()
    const msg = signMessage(notification('m'), other, certUrl, '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses a stale message and one from the future', async () => {
    const msg = signMessage(notification('m'), signer, certUrl, '2')
    const sent = Date.parse(msg['Timestamp']!)
    const v = verifier()
    await expect(v.verify(input(msg, {}, sent + 66 * 60 * 1000))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
    })
    await expect(v.verify(input(msg, {}, sent - 6 * 60 * 1000))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
    })
  })
})

describe('aws-sns: signing certificate URL and fetch', () => {
  it.each([
    ['another host than the pattern allows', (port: string) => `http://localhost:${port}${CERT_PATH}`],
    ['http instead of https', () => `http://sns.eu-west-1.amazonaws.com${CERT_PATH}`],
    ['credentials in the URL', () => `https://u:p@sns.eu-west-1.amazonaws.com${CERT_PATH}`],
  ])('refuses %s and makes no request', async (_, url) => {
    const port = new URL(sns.base).port
    const msg = signMessage(notification('m'), signer, url(port), '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      code: 'ERR_CERT_URL_NOT_ALLOWED',
      status: 401,
    })
    expect(sns.requests).toEqual([])
  })

  it('refuses a loopback certificate URL under the default AWS pattern', async () => {
    const msg = signMessage(notification('m'), signer, sns.base + CERT_PATH, '2')
    const v = createSnsVerifier(
      verifySchema.parse({ type: 'aws-sns', topicArns: [TOPIC] }) as SnsVerifyConfig,
    )
    await expect(v.verify(input(msg))).rejects.toMatchObject({ code: 'ERR_CERT_URL_NOT_ALLOWED' })
    expect(sns.requests).toEqual([])
  })

  it('refuses a certificate URL that is not a .pem', async () => {
    const url = sns.serve('/cert.txt', signer.pem)
    const msg = signMessage(notification('m'), signer, url, '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_CERT_URL_NOT_ALLOWED' })
    expect(sns.requests).toEqual([])
  })

  it('does not follow a redirect to the certificate', async () => {
    const url = sns.answer('/moved.pem', 302, { location: certUrl })
    const msg = signMessage(notification('m'), signer, url, '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'signing certificate unavailable',
    })
    expect(sns.requests).toEqual(['/moved.pem'])
  })

  it('refuses an oversized certificate response', async () => {
    const url = sns.answer('/huge.pem', 200, { body: signer.pem.repeat(20) })
    const msg = signMessage(notification('m'), signer, url, '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      message: 'signing certificate unavailable',
    })
  })

  it('refuses a certificate that has expired', async () => {
    const old = await issueSigner({
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 1000),
    })
    const url = sns.serve('/expired.pem', old.pem)
    const msg = signMessage(notification('m'), old, url, '2')
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      message: 'signing certificate unavailable',
    })
  })

  it('fetches through an injected WHATWG fetch, still following no redirect', async () => {
    const moved = sns.answer('/moved-fetch.pem', 301, { location: certUrl })
    const fetchFake = ((url: string, init?: object) =>
      undiciFetch(url, { ...init, dispatcher: sns.dispatcher })) as unknown as typeof fetch
    const v = verifier({}, { fetch: fetchFake })
    await expect(v.verify(input(signMessage(notification('m'), signer, certUrl, '2')))).resolves.toBeDefined()
    const redirected = v.verify(input(signMessage(notification('m'), signer, moved, '2')))
    await expect(redirected).rejects.toMatchObject({ message: 'signing certificate unavailable' })
    expect(sns.requests).toEqual([CERT_PATH, '/moved-fetch.pem'])
  })

  it('fetches through the given undici dispatcher', async () => {
    const agent = new MockAgent()
    agent.disableNetConnect()
    agent.get(AWS_SNS_ORIGIN).intercept({ path: '/mocked.pem', method: 'GET' }).reply(200, signer.pem)
    const msg = signMessage(notification('m'), signer, `${AWS_SNS_ORIGIN}/mocked.pem`, '1')
    await expect(verifier({}, { dispatcher: agent }).verify(input(msg))).resolves.toBeDefined()
    expect(sns.requests).toEqual([])
    await agent.close()
  })

  it('fetches a failing certificate URL once for 50 messages, and again once the failure is 30 s old', async () => {
    const url = sns.answer('/flaky.pem', 503)
    const v = verifier()
    const now = Date.now()
    for (let i = 0; i < 50; i += 1) {
      const msg = signMessage(notification(`m${i}`), signer, url, '2')
      await expect(v.verify(input(msg, {}, now + i))).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_INVALID',
        message: 'signing certificate unavailable',
      })
    }
    expect(sns.requests).toEqual(['/flaky.pem'])
    sns.serve('/flaky.pem', signer.pem)
    const later = now + FETCH_FAILURE_TTL_MS + 1
    const msg = signMessage(notification('m'), signer, url, '2')
    await expect(v.verify(input(msg, {}, later))).resolves.toBeDefined()
    expect(sns.requests).toEqual(['/flaky.pem', '/flaky.pem'])
  })

  it('keeps a good certificate while messages name more failing certificate URLs than the cache holds', async () => {
    const v = verifier()
    const now = Date.now()
    await expect(
      v.verify(input(signMessage(notification('good'), signer, certUrl, '2'), {}, now)),
    ).resolves.toBeDefined()
    for (let i = 0; i < 120; i += 1) {
      const url = sns.answer(`/made-up-${i}.pem`, 404)
      const msg = signMessage(notification(`bad${i}`), signer, url, '2')
      await expect(v.verify(input(msg, {}, now + i))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
    }
    sns.requests.length = 0
    await expect(
      v.verify(input(signMessage(notification('again'), signer, certUrl, '2'), {}, now + 200)),
    ).resolves.toBeDefined()
    // the good certificate was not evicted: no fetch
    expect(certFetches()).toBe(0)
  })

  it('shares one failed fetch between concurrent messages', async () => {
    const url = sns.answer('/down.pem', 500)
    const v = verifier()
    const msgs = Array.from({ length: 20 }, (_, i) => signMessage(notification(`c${i}`), signer, url, '1'))
    const results = await Promise.allSettled(msgs.map((m) => v.verify(input(m))))
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    expect(sns.requests).toEqual(['/down.pem'])
  })
})

describe('aws-sns: topics and message shape', () => {
  it('refuses a topic outside topicArns before fetching anything', async () => {
    const msg = signMessage(notification('m', { TopicArn: `${TOPIC}-other` }), signer, certUrl, '2')
    const req = input(msg, { 'x-amz-sns-topic-arn': `${TOPIC}-other` })
    await expect(verifier().verify(req)).rejects.toMatchObject({ code: 'ERR_TOPIC_NOT_ALLOWED', status: 401 })
    expect(sns.requests).toEqual([])
  })

  it('refuses a topic header that disagrees with the signed TopicArn', async () => {
    const msg = signMessage(notification('m'), signer, certUrl, '2')
    const req = input(msg, { 'x-amz-sns-topic-arn': `${TOPIC}-other` })
    await expect(verifier().verify(req)).rejects.toMatchObject({ code: 'ERR_TOPIC_NOT_ALLOWED' })
  })

  it.each([
    ['an unknown Type', { Type: 'Surprise' }],
    ['a missing Signature', { Signature: undefined }],
    ['a non-string Message', { Message: 42 }],
  ])('answers 400 for %s', async (_, change) => {
    const msg = { ...signMessage(notification('m'), signer, certUrl, '2'), ...change }
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
      status: 400,
    })
  })

  it('answers 400 for a body that is not JSON', async () => {
    const req = { headers: {}, body: Buffer.from('Type=Notification'), now: Date.now() }
    await expect(verifier().verify(req)).rejects.toMatchObject({ code: 'ERR_BODY_INVALID', status: 400 })
  })
})

describe('aws-sns: subscriptions', () => {
  it('confirms a subscription by fetching SubscribeURL once', async () => {
    const subscribe = sns.answer('/confirm', 200, { body: '<ConfirmSubscriptionResponse/>' })
    const msg = signMessage(
      confirmation('SubscriptionConfirmation', `${subscribe}?Token=token-123`),
      signer,
      certUrl,
    )
    const out = await verifier().verify(input(msg))
    expect(out).toMatchObject({ handled: 'subscription confirmed', eventId: msg['MessageId'] })
    expect(sns.requests.filter((p) => p.startsWith('/confirm'))).toEqual(['/confirm?Token=token-123'])
  })

  it('refuses a SubscribeURL outside the pattern without fetching it', async () => {
    const port = new URL(sns.base).port
    const msg = signMessage(
      confirmation('SubscriptionConfirmation', `http://localhost:${port}/confirm`),
      signer,
      certUrl,
    )
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_CERT_URL_NOT_ALLOWED' })
    expect(sns.requests.filter((p) => p.startsWith('/confirm'))).toEqual([])
  })

  it('answers 500 when SNS refuses the confirmation, so that SNS sends it again', async () => {
    const subscribe = sns.answer('/confirm-broken', 403)
    const msg = signMessage(confirmation('SubscriptionConfirmation', subscribe), signer, certUrl)
    await expect(verifier().verify(input(msg))).rejects.toMatchObject({ code: 'ERR_INTERNAL', status: 500 })
  })

  it('leaves the subscription unconfirmed when confirmSubscriptions is off', async () => {
    const subscribe = sns.answer('/confirm-off', 200)
    const msg = signMessage(confirmation('SubscriptionConfirmation', subscribe), signer, certUrl)
    const out = await verifier({ confirmSubscriptions: false }).verify(input(msg))
    expect(out.handled).toMatch(/not confirmed/)
    expect(sns.requests).not.toContain('/confirm-off')
  })

  it('notes an UnsubscribeConfirmation without fetching its URL', async () => {
    const url = sns.answer('/resubscribe', 200)
    const msg = signMessage(confirmation('UnsubscribeConfirmation', url), signer, certUrl, '2')
    const out = await verifier().verify(input(msg))
    expect(out.handled).toBe('unsubscribe noted')
    expect(sns.requests).not.toContain('/resubscribe')
  })
})
