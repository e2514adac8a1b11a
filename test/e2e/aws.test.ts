// End to end through the real process: the shipped AWS examples, the real SDK against a local Secrets
// Manager, SNS messages signed on loopback, and values that never rest in the store or the logs.
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { labelUpdatedEvent, putSecretValueEvent, rotationSucceededEvent } from '../support/aws-events.js'
import { type AwsRelay, startAwsRelay } from '../support/aws-relay.js'
import { signMessage } from '../support/fake-sns.js'
import { until } from '../support/until.js'

let aws: AwsRelay
beforeAll(async () => {
  aws = await startAwsRelay()
})
afterAll(async () => {
  await aws?.close()
})

/** A new AWSCURRENT version of `arn` holding `value`; returns its version id. */
function rotate(arn: string, value: string): string {
  const version = aws.sm.putPending(arn, aws.remember(value))
  aws.sm.promote(arn, version)
  return version
}

/** A new version of the database secret (JSON): its password and version id. */
function rotateDb(): { password: string; version: string } {
  const password = aws.remember(`db-pw-${randomUUID()}`)
  const username = aws.remember(`app-${randomUUID()}`)
  return { password, version: rotate(aws.db, JSON.stringify({ username, password })) }
}

// Event times rise through the file (never regress orders writes by them); SNS, last, uses the clock.
let clock = Date.now() - 30 * 60_000
function nextTime(): string {
  clock += 1000
  return new Date(clock).toISOString().replace(/\.\d+Z$/, 'Z')
}
const labelUpdated = (arn: string, versionId: string, time = nextTime()) =>
  labelUpdatedEvent(arn, versionId, { time })
const putSecretValue = (arn: string, token: string, time = nextTime()) =>
  putSecretValueEvent(arn, token, { time })

const delivered = (name: string, value: string) =>
  aws.rwx.waitFor((w) => w.some((x) => x.vault === 'production' && x.name === name && x.secret === value))
const asked = (versionId: string) => aws.sm.calls.filter((c) => c.body['VersionId'] === versionId)
const written = (value: string) => aws.rwx.writes.some((w) => w.secret === value)

describe('AWS Secrets Manager end to end (shipped examples, real SDK, real process)', () => {
  it('Secret Label Updated: fetches the named version and picks jsonKey fields', async () => {
    const { password, version } = rotateDb()
    const event = labelUpdated(aws.db, version)
    expect(await aws.post('aws-label-updated', event)).toEqual({
      status: 202,
      body: { event: event.id, secrets: 2 },
    })
    await delivered('DATABASE_PASSWORD', password)
    await aws.rwx.waitFor((w) => w.some((x) => x.name === 'DATABASE_USER' && x.secret.startsWith('app-')))
    expect(aws.rwx.secrets('production').get('DATABASE_PASSWORD')?.description).toContain(version)
    // The region comes from the ARN, not AWS_REGION.
    expect(asked(version).map((c) => c.region)).toEqual(['eu-west-1', 'eu-west-1'])
  })

  it.each(['additionalEventData', 'serviceEventDetails', 'resources'] as const)(
    'RotationSucceeded with the ARN in %s: AWSCURRENT is delivered',
    async (place) => {
      const { password } = rotateDb()
      const event = rotationSucceededEvent(place, aws.db, { time: nextTime() })
      const calls = aws.sm.calls.length
      expect(await aws.post('aws-rotation-succeeded', event)).toMatchObject({
        status: 202,
        body: { secrets: 1 },
      })
      await delivered('DATABASE_PASSWORD', password)
      // No VersionId in these events: AWSCURRENT, which after RotationSucceeded is the new version.
      expect(aws.sm.calls.slice(calls)[0]?.body).toEqual({ SecretId: aws.db })
    },
  )

  it('PutSecretValue: the clientRequestToken is the version fetched', async () => {
    const value = `put-${randomUUID()}`
    const token = rotate(aws.partner, value)
    const event = putSecretValue(aws.partner, token)
    expect(await aws.post('aws-put-secret-value', event)).toMatchObject({ status: 202, body: { secrets: 1 } })
    await delivered('PARTNER_API_TOKEN', value)
    expect(asked(token)[0]?.body).toEqual({ SecretId: aws.partner, VersionId: token })
  })

  it('holds an AWSPENDING version back until it is promoted', async () => {
    const value = `pending-${randomUUID()}`
    const version = aws.sm.putPending(aws.partner, aws.remember(value))
    const event = putSecretValue(aws.partner, version)
    expect((await aws.post('aws-put-secret-value', event)).status).toBe(202)
    await until(
      () => asked(version).length >= 3 || written(value),
      'the pending version to be asked about thrice',
    )
    expect(written(value)).toBe(false)
    const pending = await aws.settled('aws-put-secret-value', event.id, 'queued')
    expect(pending.secrets[0]?.lastError).toBe('version is still AWSPENDING')
    expect(written(value)).toBe(false)
    aws.sm.promote(aws.partner, version)
    await delivered('PARTNER_API_TOKEN', value)
    await aws.settled('aws-put-secret-value', event.id, 'delivered')
  })

  it('retries throttling until the value is delivered', async () => {
    const value = `throttled-${randomUUID()}`
    const version = rotate(aws.partner, value)
    aws.sm.failNext(2, 'ThrottlingException')
    expect((await aws.post('aws-label-updated', labelUpdated(aws.partner, version))).status).toBe(202)
    await delivered('PARTNER_API_TOKEN', value)
    expect(asked(version).length).toBeGreaterThanOrEqual(3)
  })

  it('marks AccessDenied dead, visible in the admin API without the value', async () => {
    const value = `denied-${randomUUID()}`
    const event = labelUpdated(aws.partner, rotate(aws.partner, value))
    aws.sm.failNext(1, 'AccessDeniedException')
    expect((await aws.post('aws-label-updated', event)).status).toBe(202)
    const { secrets, text } = await aws.settled('aws-label-updated', event.id, 'dead')
    expect(secrets[0]).toMatchObject({
      name: 'PARTNER_API_TOKEN',
      lastError: expect.stringMatching(/AccessDenied/),
    })
    expect(text).not.toContain(value)
    expect(written(value)).toBe(false)
  })

  it('never regresses: an older version arriving last leaves the newer value in RWX', async () => {
    const older = `older-${randomUUID()}`
    const newer = `newer-${randomUUID()}`
    const olderVersion = rotate(aws.partner, older)
    const olderTime = nextTime()
    const newerVersion = rotate(aws.partner, newer)
    const current = putSecretValue(aws.partner, newerVersion)
    expect((await aws.post('aws-put-secret-value', current)).status).toBe(202)
    await delivered('PARTNER_API_TOKEN', newer)
    // Late with its own (older) time: the store supersedes it on arrival.
    const late = putSecretValue(aws.partner, olderVersion, olderTime)
    expect((await aws.post('aws-put-secret-value', late)).status).toBe(202)
    await aws.settled('aws-put-secret-value', late.id, 'superseded')
    // Late with a newer time: only the version's labels (AWSPREVIOUS now) tell it is older.
    const relabelled = labelUpdated(aws.partner, olderVersion)
    expect((await aws.post('aws-label-updated', relabelled)).status).toBe(202)
    const { secrets } = await aws.settled('aws-label-updated', relabelled.id, 'superseded')
    expect(secrets[0]?.lastError).toMatch(/AWSPREVIOUS/)
    expect(aws.rwx.secrets('production').get('PARTNER_API_TOKEN')?.secret).toBe(newer)
    expect(written(older)).toBe(false)
  })

  it('SNS: confirms the subscription and delivers an EventBridge event carried in Message', async () => {
    const send = (msg: Record<string, string>) =>
      fetch(`${aws.relay.url}/hooks/aws-sns`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': msg['Type']! },
        body: JSON.stringify(msg),
      })
    const certUrl = aws.sns.serve('/SimpleNotificationService-e2e.pem', aws.signer.pem)
    const subscribeUrl = `${aws.sns.answer('/confirm', 200)}?Action=ConfirmSubscription&Token=t-1`
    const base = { TopicArn: aws.topicArn, Timestamp: new Date().toISOString() }
    const confirmation = signMessage(
      {
        ...base,
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Token: 't-1',
        Message: 'confirm',
        SubscribeURL: subscribeUrl,
      },
      aws.signer,
      certUrl,
      '2',
    )
    const confirmed = await send(confirmation)
    expect(confirmed.status).toBe(200)
    expect(await confirmed.json()).toMatchObject({ handled: 'subscription confirmed' })
    expect(aws.sns.requests).toContain('/confirm?Action=ConfirmSubscription&Token=t-1')
    // The process hands its logger to every verifier: the confirmation is in the log, not silent.
    await until(
      () => /"component":"verify".*"msg":"SNS subscription confirmed"/.test(aws.relay.output()),
      'the SNS confirmation in the relay log',
    )

    const { password, version } = rotateDb()
    const message = JSON.stringify(labelUpdated(aws.db, version))
    const notification = signMessage(
      { ...base, Type: 'Notification', MessageId: randomUUID(), Message: message },
      aws.signer,
      certUrl,
    )
    const res = await send(notification)
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ event: notification['MessageId'], secrets: 1 })
    await delivered('DATABASE_PASSWORD', password)
  })

  it('never writes a fetched value to the store files or the log', async () => {
    const scan = () => {
      const files = readdirSync(join(aws.dir, 'data')).filter((f) => !f.endsWith('.key'))
      expect(files.length).toBeGreaterThan(0)
      for (const f of files) {
        const bytes = readFileSync(join(aws.dir, 'data', f))
        for (const v of aws.values)
          expect(bytes.includes(Buffer.from(v)), `${f} holds an AWS value`).toBe(false)
      }
    }
    // The relay did handle these values (RWX holds them), so finding none in its files means something.
    expect(aws.values.filter(written).length).toBeGreaterThan(8)
    scan()
    expect(await aws.relay.kill('SIGTERM')).toBe(0)
    scan()
    const output = aws.relay.output()
    expect(output).toContain('"level":10')
    for (const v of [...aws.values, aws.token])
      expect(output.includes(v), 'a value appeared in the output').toBe(false)
  })
})
