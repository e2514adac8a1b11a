// The registry hands each verifier what it uses: the logger (SNS subscription confirmations are not
// silent) and the dispatcher itself to SNS.
import { randomUUID } from 'node:crypto'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import {
  type FakeSns,
  issueSigner,
  signMessage,
  startFakeSns,
  type TestSigner,
  toFakeSns,
} from '../support/fake-sns.js'

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
    })
    const verifier = createVerifier(config, { log, dispatcher: sns.dispatcher })
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

  it('hands the SNS verifier the dispatcher itself: its certificate GET is undici’s request over it, no fetch', async () => {
    const dispatched: string[] = []
    const agent = new Agent()
    const dispatcher = agent.compose(toFakeSns(sns.base), (dispatch) => (opts, handler) => {
      dispatched.push(opts.path)
      return dispatch(opts, handler)
    })
    const certUrl = sns.serve('/SimpleNotificationService-dispatcher.pem', signer.pem)
    const config = verifySchema.parse({
      type: 'aws-sns',
      topicArns: [TOPIC],
    })
    const msg = signMessage(
      {
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: TOPIC,
        Message: '{"rotated":true}',
        Timestamp: new Date().toISOString(),
      },
      signer,
      certUrl,
      '2',
    )
    try {
      await expect(
        createVerifier(config, { dispatcher }).verify({
          headers: { 'x-amz-sns-message-type': 'Notification' },
          body: Buffer.from(JSON.stringify(msg)),
          now: Date.now(),
        }),
      ).resolves.toMatchObject({ payload: { rotated: true } })
      expect(dispatched).toEqual(['/SimpleNotificationService-dispatcher.pem'])
      // A WHATWG fetch adds the Fetch standard's request headers; undici's request sends none of them.
      const sent = sns.headers[sns.requests.indexOf('/SimpleNotificationService-dispatcher.pem')]
      expect(sent).toBeDefined()
      expect(sent).not.toHaveProperty('sec-fetch-mode')
    } finally {
      await agent.close()
    }
  })
})
