// EventBridge events from AWS Secrets Manager, shaped as PROVIDERS.md §1a describes, for the tests.
import { randomUUID } from 'node:crypto'

/** Envelope fields a test may pin; the rest are fixed placeholders. */
export interface EnvelopeOptions {
  /** Default: a random UUID, as EventBridge gives every event. */
  id?: string
  /** RFC 3339, second precision as EventBridge writes it. Default: now. */
  time?: string
  resources?: string[]
}

/** Where a CloudTrail `RotationSucceeded` event carries the secret's ARN (all three are seen). */
export type RotationIdPlace = 'additionalEventData' | 'serviceEventDetails' | 'resources'

/** An event from `source: aws.secretsmanager` with the given `detail-type` and `detail`. */
export function secretsManagerEvent<D extends object>(
  detailType: string,
  detail: D,
  options: EnvelopeOptions = {},
) {
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': detailType,
    source: 'aws.secretsmanager',
    account: '111122223333',
    time: options.time ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'eu-west-1',
    resources: options.resources ?? [],
    detail,
  }
}

/** `Secret Label Updated`: AWSCURRENT moved to `versionId` of the secret `arn` (in resources[0]). */
export function labelUpdatedEvent(arn: string, versionId: string, options: EnvelopeOptions = {}) {
  const name = /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1] ?? arn
  return secretsManagerEvent(
    'Secret Label Updated',
    { name, labelUpdated: 'AWSCURRENT', versionId },
    { resources: [arn], ...options },
  )
}

/** CloudTrail `PutSecretValue`: `token` (the ClientRequestToken) becomes the new version of `arn`. */
export function putSecretValueEvent(arn: string, token: string, options: EnvelopeOptions = {}) {
  return secretsManagerEvent(
    'AWS API Call via CloudTrail',
    {
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'PutSecretValue',
      eventType: 'AwsApiCall',
      userIdentity: { arn: 'arn:aws:iam::111122223333:role/deployer' },
      requestParameters: { secretId: arn.split(':').at(-1), clientRequestToken: token },
      responseElements: { arn, versionId: token },
    },
    options,
  )
}

/** CloudTrail `RotationSucceeded` (no VersionId) with the ARN of the rotated secret in one `place`. */
export function rotationSucceededEvent(place: RotationIdPlace, arn: string, options: EnvelopeOptions = {}) {
  const detail = {
    eventSource: 'secretsmanager.amazonaws.com',
    eventName: 'RotationSucceeded',
    eventType: 'AwsServiceEvent',
    requestParameters: null,
    ...(place === 'additionalEventData' ? { additionalEventData: { SecretId: arn } } : {}),
    ...(place === 'serviceEventDetails' ? { serviceEventDetails: { secretId: arn } } : {}),
  }
  return secretsManagerEvent('AWS Service Event via CloudTrail', detail, {
    ...(place === 'resources' ? { resources: [arn] } : {}),
    ...options,
  })
}
