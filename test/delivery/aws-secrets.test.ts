// The AWS resolver with the real SDK against a local Secrets Manager speaking the JSON 1.1 protocol.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAwsResolver, regionOf } from '../../src/delivery/aws-secrets.js'
import { type FakeSecretsManager, startFakeSecretsManager } from '../support/fake-secrets-manager.js'

const ENV_KEYS = [
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_PROFILE',
  'AWS_EC2_METADATA_DISABLED',
] as const
const saved = new Map(ENV_KEYS.map((k) => [k, process.env[k]]))

let sm: FakeSecretsManager
let resolver: ReturnType<typeof createAwsResolver>
let n = 0
const unique = (name: string) => `${name}-${++n}`

beforeAll(async () => {
  sm = await startFakeSecretsManager()
  for (const k of ENV_KEYS) delete process.env[k]
  process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = sm.url
  process.env['AWS_ACCESS_KEY_ID'] = 'AKIDTESTTEST'
  process.env['AWS_SECRET_ACCESS_KEY'] = 'test-secret-access-key'
  process.env['AWS_REGION'] = 'us-east-1'
  process.env['AWS_EC2_METADATA_DISABLED'] = 'true'
  resolver = createAwsResolver()
})
afterAll(async () => {
  resolver.close()
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  await sm.close()
})
afterEach(() => {
  sm.calls.length = 0
})

describe('aws resolver: versions', () => {
  it('returns the current value when no version is named', async () => {
    const { arn } = sm.create(unique('app/db'), 'hunter2')
    expect(await resolver.resolve({ secretId: arn })).toEqual({ kind: 'value', value: 'hunter2' })
    expect(sm.calls.map((c) => c.target)).toEqual(['GetSecretValue'])
  })

  it('returns a named version that is AWSCURRENT', async () => {
    const { arn, versionId } = sm.create(unique('app/db'), 'current-value')
    expect(await resolver.resolve({ secretId: arn, versionId })).toEqual({
      kind: 'value',
      value: 'current-value',
    })
    expect(sm.calls[0]?.body).toMatchObject({ SecretId: arn, VersionId: versionId })
  })

  it('holds back an AWSPENDING version, then returns it once it is promoted', async () => {
    const { arn } = sm.create(unique('app/db'), 'old')
    const pending = sm.putPending(arn, 'new-value')
    const held = await resolver.resolve({ secretId: arn, versionId: pending })
    // No afterMs of its own: the worker's backoff paces the re-checks.
    expect(held).toEqual({ kind: 'retry', error: 'version is still AWSPENDING' })
    sm.promote(arn, pending)
    expect(await resolver.resolve({ secretId: arn, versionId: pending })).toEqual({
      kind: 'value',
      value: 'new-value',
    })
  })

  it('never regresses: a version that became AWSPREVIOUS is superseded', async () => {
    const { arn, versionId: first } = sm.create(unique('app/db'), 'old')
    sm.promote(arn, sm.putPending(arn, 'new'))
    const out = await resolver.resolve({ secretId: arn, versionId: first })
    expect(out).toMatchObject({ kind: 'superseded', error: expect.stringContaining('AWSPREVIOUS') })
  })

  it('treats a version without any label (deprecated) as superseded', async () => {
    const { arn, versionId: first } = sm.create(unique('app/db'), 'v1')
    sm.promote(arn, sm.putPending(arn, 'v2'))
    sm.promote(arn, sm.putPending(arn, 'v3'))
    expect(await resolver.resolve({ secretId: arn, versionId: first })).toMatchObject({ kind: 'superseded' })
  })
})

describe('aws resolver: values', () => {
  it('picks a jsonKey field: strings as they are, other JSON as its text', async () => {
    const { arn } = sm.create(
      unique('rds'),
      JSON.stringify({ username: 'app', password: 'pw-1', port: 5432 }),
    )
    expect(await resolver.resolve({ secretId: arn, jsonKey: 'password' })).toEqual({
      kind: 'value',
      value: 'pw-1',
    })
    expect(await resolver.resolve({ secretId: arn, jsonKey: 'port' })).toEqual({
      kind: 'value',
      value: '5432',
    })
  })

  it('is dead when jsonKey is missing or the secret is not JSON, without quoting the value', async () => {
    const { arn } = sm.create(unique('rds'), JSON.stringify({ password: 'do-not-leak' }))
    const missing = await resolver.resolve({ secretId: arn, jsonKey: 'username' })
    expect(missing).toEqual({ kind: 'dead', error: 'jsonKey "username" is not in the secret' })
    const { arn: plain } = sm.create(unique('plain'), 'not json do-not-leak')
    const notJson = await resolver.resolve({ secretId: plain, jsonKey: 'password' })
    expect(notJson.kind).toBe('dead')
    expect(JSON.stringify([missing, notJson])).not.toContain('do-not-leak')
  })

  it('sends a binary secret as base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252])
    const { arn } = sm.create(unique('cert'), bytes)
    expect(await resolver.resolve({ secretId: arn })).toEqual({
      kind: 'value',
      value: bytes.toString('base64'),
    })
  })
})

describe('aws resolver: errors', () => {
  it('retries on throttling, once per call (no hidden SDK retries)', async () => {
    const { arn } = sm.create(unique('app/db'), 'v')
    sm.failNext(1, 'ThrottlingException')
    expect(await resolver.resolve({ secretId: arn })).toMatchObject({
      kind: 'retry',
      error: /^ThrottlingException/,
    })
    expect(sm.calls).toHaveLength(1)
    expect(await resolver.resolve({ secretId: arn })).toEqual({ kind: 'value', value: 'v' })
  })

  it('retries on a 5xx', async () => {
    const { arn } = sm.create(unique('app/db'), 'v')
    sm.failNext(1, 'InternalServiceError', 500)
    expect(await resolver.resolve({ secretId: arn })).toMatchObject({ kind: 'retry' })
  })

  it.each([
    ['AccessDeniedException', 'AccessDeniedException'],
    ['DecryptionFailure', 'DecryptionFailure'],
    ['InvalidRequestException', 'InvalidRequestException'],
  ])('is dead on %s', async (type, name) => {
    const { arn } = sm.create(unique('app/db'), 'v')
    sm.failNext(1, type)
    const out = await resolver.resolve({ secretId: arn })
    expect(out).toMatchObject({ kind: 'dead', error: expect.stringMatching(new RegExp(`^${name}: `)) })
  })

  it.each(['constructor', 'toString', 'valueOf'])(
    'reads an error type named %s as an unknown error, not as a member of an object',
    async (type) => {
      const { arn } = sm.create(unique('app/db'), 'v')
      sm.failNext(1, type)
      const out = await resolver.resolve({ secretId: arn })
      expect(out).toMatchObject({
        kind: 'dead',
        error: `${type}: Secrets Manager refused the request (HTTP 400)`,
      })
    },
  )

  it('is dead when the secret does not exist', async () => {
    const out = await resolver.resolve({
      secretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:nope-AbCdEf',
    })
    expect(out).toEqual({ kind: 'dead', error: 'ResourceNotFoundException: no such secret or version' })
  })

  it('retries when Secrets Manager cannot be reached', async () => {
    const down = await startFakeSecretsManager()
    await down.close()
    const client = new SecretsManagerClient({ endpoint: down.url, region: 'us-east-1', maxAttempts: 1 })
    const offline = createAwsResolver({ client })
    expect(await offline.resolve({ secretId: 'app/db' })).toMatchObject({ kind: 'retry' })
    client.destroy()
  })
})

describe('aws resolver: regions', () => {
  it('reads the region from the ARN, and uses AWS_REGION for a bare name', async () => {
    const { arn } = sm.create(unique('eu/db'), 'eu-value', 'eu-west-1')
    const name = unique('us-db')
    sm.create(name, 'us-value')
    expect(await resolver.resolve({ secretId: arn })).toEqual({ kind: 'value', value: 'eu-value' })
    expect(await resolver.resolve({ secretId: name })).toEqual({ kind: 'value', value: 'us-value' })
    expect(sm.calls.map((c) => c.region)).toEqual(['eu-west-1', 'us-east-1'])
  })

  it('makes one client per region through clientFor', async () => {
    const asked: (string | undefined)[] = []
    const own = createAwsResolver({
      clientFor: (region) => {
        asked.push(region)
        return new SecretsManagerClient({ endpoint: sm.url, region: region ?? 'us-east-1', maxAttempts: 1 })
      },
    })
    const { arn: a } = sm.create(unique('a'), 'A', 'ap-southeast-2')
    const { arn: b } = sm.create(unique('b'), 'B', 'ap-southeast-2')
    await own.resolve({ secretId: a })
    await own.resolve({ secretId: b })
    await own.resolve({ secretId: 'plain-name' })
    own.close()
    expect(asked).toEqual(['ap-southeast-2', undefined])
    expect(regionOf('arn:aws-cn:secretsmanager:cn-north-1:1:secret:x')).toBe('cn-north-1')
  })
})

describe('aws resolver: current version (reconciliation)', () => {
  it('reads the AWSCURRENT version from metadata only and pins the reference to it', async () => {
    const name = unique('app/current')
    const { arn, versionId } = sm.create(name, 'value-one')
    expect(await resolver.current!({ secretId: arn, jsonKey: 'password' })).toEqual({
      kind: 'version',
      ref: { secretId: arn, jsonKey: 'password', versionId },
      version: versionId,
    })
    const pending = sm.putPending(name, 'value-two')
    // A rotation not finished yet is not current.
    expect(await resolver.current!({ secretId: arn })).toMatchObject({ version: versionId })
    sm.promote(name, pending)
    expect(await resolver.current!({ secretId: arn })).toMatchObject({ kind: 'version', version: pending })
    expect(sm.calls.map((c) => c.target)).toEqual(['DescribeSecret', 'DescribeSecret', 'DescribeSecret'])
    expect(JSON.stringify(await resolver.current!({ secretId: arn }))).not.toContain('value-two')
  })

  it('says missing for an unknown secret, retry when throttled', async () => {
    expect(await resolver.current!({ secretId: unique('nope') })).toMatchObject({
      kind: 'missing',
      error: expect.stringContaining('ResourceNotFoundException'),
    })
    const { arn } = sm.create(unique('app/throttled'), 'v')
    sm.failNext(1, 'ThrottlingException')
    expect(await resolver.current!({ secretId: arn })).toMatchObject({
      kind: 'retry',
      error: expect.stringContaining('throttling'),
    })
  })
})
