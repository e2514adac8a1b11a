// Whatever certUrlPattern says, a SigningCertURL (and SubscribeURL) must be https on AWS's own SNS host.
import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import type { HttpGet } from '../../src/http/get.js'
import { createSnsVerifier, type SnsVerifyConfig } from '../../src/verify/aws-sns.js'
import { issueSigner, signMessage, type TestSigner } from '../support/fake-sns.js'

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:rotations'
let signer: TestSigner
beforeAll(async () => {
  signer = await issueSigner()
})

/** A GET that records what it was asked for and never reaches the network. */
function recordingGet(): { get: HttpGet; asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    get: async (url) => {
      asked.push(url)
      throw new Error('no network in this test')
    },
  }
}

function attempt(certUrl: string, certUrlPattern?: string) {
  const { get, asked } = recordingGet()
  const config = verifySchema.parse({
    type: 'aws-sns',
    topicArns: [TOPIC],
    ...(certUrlPattern === undefined ? {} : { certUrlPattern }),
  })
  const msg = signMessage(
    {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: TOPIC,
      Message: 'm',
      Timestamp: new Date().toISOString(),
    },
    signer,
    certUrl,
    '2',
  )
  const result = createSnsVerifier(config as SnsVerifyConfig, { get }).verify({
    headers: {},
    body: Buffer.from(JSON.stringify(msg)),
    now: Date.now(),
  })
  return { result, asked }
}

describe('aws-sns certificate URL host rule', () => {
  it.each([
    ['the S3 host the default pattern let through', 'https://sns.s3.amazonaws.com/cert.pem', undefined],
    [
      'http under a pattern without a scheme',
      'http://sns.eu-west-1.amazonaws.com/cert.pem',
      'sns\\.eu-west-1\\.amazonaws\\.com/',
    ],
    [
      'a look-alike host under a loose pattern',
      'https://sns.eu-west-1.amazonaws.com.evil.example/c.pem',
      'amazonaws',
    ],
    ['a non-default port', 'https://sns.eu-west-1.amazonaws.com:8443/cert.pem', 'amazonaws'],
    ['loopback under a loopback pattern', 'http://127.0.0.1:1234/cert.pem', '^http://127\\.0\\.0\\.1:\\d+/'],
  ])('refuses %s without fetching it', async (_name, url, pattern) => {
    const { result, asked } = attempt(url, pattern)
    await expect(result).rejects.toMatchObject({ code: 'ERR_CERT_URL_NOT_ALLOWED', status: 401 })
    expect(asked).toEqual([])
  })

  it.each([
    'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem',
  ])('lets %s through to the fetch', async (url) => {
    const { result, asked } = attempt(url)
    await expect(result).rejects.toMatchObject({ message: 'signing certificate unavailable' })
    expect(asked).toEqual([url])
  })
})
