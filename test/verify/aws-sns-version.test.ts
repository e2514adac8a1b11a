// minSignatureVersion: 2 refuses SHA1 (SignatureVersion 1) SNS messages before any certificate is fetched.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createSnsVerifier, type SnsVerifyConfig } from '../../src/verify/aws-sns.js'
import { type FakeSns, issueSigner, signMessage, startFakeSns, type TestSigner } from '../support/fake-sns.js'

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:rotations'
let sns: FakeSns
let signer: TestSigner
let certUrl: string

beforeAll(async () => {
  sns = await startFakeSns()
  signer = await issueSigner()
  certUrl = sns.serve('/SimpleNotificationService-version.pem', signer.pem)
})
afterAll(() => sns.close())

function verifier(options: Record<string, unknown> = {}) {
  const config = verifySchema.parse({ type: 'aws-sns', topicArns: [TOPIC], ...options })
  return createSnsVerifier(config as SnsVerifyConfig, { dispatcher: sns.dispatcher })
}

const message = () => ({
  Type: 'Notification',
  MessageId: randomUUID(),
  TopicArn: TOPIC,
  Message: '{"name":"db"}',
  Timestamp: new Date().toISOString(),
})
const input = (msg: Record<string, string>) => ({
  headers: { 'x-amz-sns-message-type': 'Notification' },
  body: Buffer.from(JSON.stringify(msg)),
  now: Date.now(),
})

describe('aws-sns minSignatureVersion', () => {
  it('refuses a SignatureVersion 1 message with minSignatureVersion 2, fetching nothing', async () => {
    sns.requests.length = 0
    const v1 = signMessage(message(), signer, certUrl, '1')
    await expect(verifier({ minSignatureVersion: 2 }).verify(input(v1))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'SignatureVersion 1 (SHA1) not accepted: minSignatureVersion is 2',
    })
    expect(sns.requests).toEqual([])
  })

  it('accepts SignatureVersion 2 with minSignatureVersion 2, and version 1 by default', async () => {
    const v2 = signMessage(message(), signer, certUrl, '2')
    await expect(verifier({ minSignatureVersion: 2 }).verify(input(v2))).resolves.toMatchObject({
      payload: { name: 'db' },
    })
    const v1 = signMessage(message(), signer, certUrl, '1')
    await expect(verifier().verify(input(v1))).resolves.toMatchObject({ payload: { name: 'db' } })
  })
})
