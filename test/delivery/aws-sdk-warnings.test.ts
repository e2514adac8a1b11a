// The AWS resolver routes the SDK's Node version warning into the log, and only that one.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { afterEach, expect, it } from 'vitest'
import { createAwsResolver } from '../../src/delivery/aws-secrets.js'
import { until } from '../support/until.js'

const seen: string[] = []
const onWarning = (w: Error) => seen.push(w.message)
afterEach(() => {
  process.off('warning', onWarning)
})

it("logs the SDK's NodeVersionSupportWarning and lets every other warning through to Node", async () => {
  process.on('warning', onWarning)
  const original = process.emitWarning
  const logged: { obj: object; msg: string }[] = []
  const resolver = createAwsResolver({
    log: { warn: (obj, msg) => void logged.push({ obj, msg }) },
    clientFor: () => {
      // What the SDK does while a client is made, and a warning of someone else's meanwhile.
      process.emitWarning(
        'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nwill require node >=22.',
      )
      process.emitWarning('not the SDK: keep me', 'ExperimentalWarning')
      return new SecretsManagerClient({
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:1',
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
        maxAttempts: 1,
      })
    },
  })
  await resolver.resolve({ secretId: 'prod/x' })
  resolver.close()
  expect(logged).toContainEqual({
    obj: { component: 'aws-sdk', warning: 'NodeVersionSupportWarning' },
    msg: 'The AWS SDK for JavaScript (v3) will require node >=22.',
  })
  await until(() => seen.includes('not the SDK: keep me'), 'the other warning to reach Node')
  expect(seen.some((m) => m.includes('NodeVersionSupportWarning'))).toBe(false)
  // Outside client construction nothing is intercepted.
  expect(process.emitWarning).toBe(original)
})
