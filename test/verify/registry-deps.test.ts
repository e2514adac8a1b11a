// The registry hands every verifier the logger it is given: SNS subscription confirmations are not silent.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { type FakeSns, issueSigner, signMessage, startFakeSns, type TestSigner } from '../support/fake-sns.js'

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:rotations'
let sns: FakeSns
let signer: TestSigner
beforeAll(async () => {
  sns = await startFakeSns()
  signer = await issueSigner()
})
afterAll(() => sns.close())

describe('verifier deps', () => {
  it('passes the logger to the SNS verifier, which logs the confirmation it made', async () => {
    const lines: { level: string; obj: object; msg: string }[] = []
    const log = {
      info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
      warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }),
    }
    const certUrl = sns.serve('/SimpleNotificationService-reg.pem', signer.pem)
    const subscribe = sns.answer('/confirm', 200, { body: '<ConfirmSubscriptionResponse/>' })
    const config = verifySchema.parse({
      type: 'aws-sns',
      topicArns: [TOPIC],
      certUrlPattern: '^http://127\\.0\\.0\\.1:\\d+/',
    })
    const verifier = createVerifier(config, { log })
    const msg = signMessage(
      {
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Token: 'token-1',
        TopicArn: TOPIC,
        Message: 'You have chosen to subscribe to the topic.',
        SubscribeURL: subscribe,
        Timestamp: new Date().toISOString(),
      },
      signer,
      certUrl,
      '2',
    )
    const result = await verifier.verify({
      headers: { 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
      body: Buffer.from(JSON.stringify(msg)),
      now: Date.now(),
    })
    expect(result.handled).toBeDefined()
    expect(lines).toContainEqual({
      level: 'info',
      obj: { topicArn: TOPIC },
      msg: 'SNS subscription confirmed',
    })
  })
})
