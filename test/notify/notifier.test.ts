// Outbound notifications end to end on a real SQLite outbox and a local receiver that checks signatures.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Webhook } from 'standardwebhooks'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NotifyConfig } from '../../src/config/schema.js'
import { createNotifier, type NotificationSender } from '../../src/notify/notifier.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { until } from '../support/until.js'
import { type Receiver, startReceiver } from './receiver.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
/** A value that must never leave the relay in a notification or a log line. */
const VALUE = 'sk_live_never-in-a-notification-9d2f'

let dir: string
let store: SqliteStore
let receiver: Receiver
let logs: string[]
let counts: string[]
const senders: NotificationSender[] = []

function config(over: Partial<NotifyConfig> = {}): NotifyConfig {
  return {
    url: receiver.url,
    secret: SECRET,
    events: ['dead', 'drift', 'outside-change'],
    timeoutMs: 2_000,
    maxAttempts: 3,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    ...over,
  }
}

function sender(over: Partial<NotifyConfig> = {}): NotificationSender {
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) })
  const n = createNotifier({
    store,
    config: config(over),
    log,
    owner: `test-${senders.length}`,
    pollMs: 50,
    counted: (kind, outcome) => counts.push(`${kind}:${outcome}`),
  })
  senders.push(n)
  return n
}

const info = {
  vault: 'payments',
  name: 'STRIPE_KEY',
  source: 'stripe',
  eventId: 'evt_1',
  reason: 'RWX answered 400: name is invalid',
  at: Date.UTC(2026, 0, 2, 3, 4, 5),
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'notify-'))
  store = createSqliteStore({ path: join(dir, 'relay.db') })
  receiver = await startReceiver(SECRET)
  logs = []
  counts = []
})

afterEach(async () => {
  for (const s of senders.splice(0)) await s.stop()
  await receiver.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('notifications', () => {
  it('posts a signed secret.dead that the relay’s own verifier and the standardwebhooks library accept', async () => {
    const n = sender()
    n.start()
    await n.notify('dead', info)
    await until(() => receiver.received.length === 1, 'the notification')
    const [got] = receiver.received
    expect(got!.verified).toBe(true)
    expect(JSON.parse(got!.body)).toEqual({
      type: 'secret.dead',
      vault: 'payments',
      name: 'STRIPE_KEY',
      source: 'stripe',
      eventId: 'evt_1',
      reason: 'RWX answered 400: name is invalid',
      at: '2026-01-02T03:04:05.000Z',
    })
    expect(got!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/)
    expect(got!.headers['content-type']).toBe('application/json')
    // the reference library agrees (what Svix and other receivers run)
    expect(() =>
      new Webhook(SECRET).verify(got!.body, {
        'webhook-id': String(got!.headers['webhook-id']),
        'webhook-timestamp': String(got!.headers['webhook-timestamp']),
        'webhook-signature': String(got!.headers['webhook-signature']),
      }),
    ).not.toThrow()
    await until(async () => (await store.nextNotificationAt()) === null, 'the outbox to empty')
    expect(counts).toEqual(['dead:queued', 'dead:sent'])
  })

  it('names each kind by its type', async () => {
    const n = sender()
    n.start()
    await n.notify('drift', { ...info, reason: 'RWX holds version 4, the relay wrote 3' })
    await n.notify('outside-change', { ...info, eventId: null })
    await until(() => receiver.received.length === 2, 'both notifications')
    const types = receiver.received.map((r) => JSON.parse(r.body) as { type: string; eventId: unknown })
    expect(types.map((t) => t.type).sort()).toEqual(['secret.drift', 'secret.outside_change'])
    expect(types.find((t) => t.type === 'secret.outside_change')?.eventId).toBeNull()
  })

  it('retries after a 500 with the same webhook-id, then counts it sent', async () => {
    receiver.answers.push(500, 503)
    const n = sender()
    n.start()
    await n.notify('dead', info)
    await until(() => receiver.received.length === 3, 'two failed tries and a third')
    expect(receiver.received.map((r) => r.status)).toEqual([500, 503, 204])
    expect(receiver.received.every((r) => r.verified)).toBe(true)
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1)
    await until(() => counts.includes('dead:sent'), 'the count')
    expect(counts).toEqual(['dead:queued', 'dead:retry', 'dead:retry', 'dead:sent'])
  })

  it('gives up after maxAttempts, counted failed and logged without the value or the secret', async () => {
    receiver.answers.push(500, 500, 500, 500)
    const n = sender({ maxAttempts: 2 })
    n.start()
    await n.notify('dead', { ...info, reason: 'no value here' })
    await until(() => counts.includes('dead:failed'), 'the notification to be given up')
    expect(receiver.received).toHaveLength(2)
    expect(await store.nextNotificationAt()).toBeNull()
    const given = logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'notification given up')
    expect(given).toMatchObject({ kind: 'dead', attempt: 2, error: 'the receiver answered 500' })
    // the URL may carry a token (Slack's do): never logged
    expect(logs.join('\n')).not.toContain(receiver.url)
    expect(logs.join('\n')).not.toContain(SECRET)
  })

  it('survives a restart: a notification queued while the receiver is down is sent by the next process', async () => {
    const unreachable = 'http://127.0.0.1:9/hooks/relay'
    const first = sender({ url: unreachable, maxAttempts: 5, backoffBaseMs: 60_000, backoffMaxMs: 60_000 })
    first.start()
    await first.notify('dead', info)
    await until(() => counts.includes('dead:retry'), 'a failed try')
    await first.stop()
    const path = join(dir, 'relay.db')
    await store.close()
    store = createSqliteStore({ path })
    // The retry is due a minute later: the next process's clock runs two minutes ahead to reach it.
    const clocked = createNotifier({
      store,
      config: config(),
      log: pino({ level: 'silent' }),
      owner: 'restarted',
      pollMs: 50,
      clock: () => Date.now() + 120_000,
    })
    senders.push(clocked)
    clocked.start()
    await until(() => receiver.received.length === 1, 'the notification after the restart')
    expect(receiver.received[0]!.verified).toBe(true)
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ type: 'secret.dead', eventId: 'evt_1' })
  })

  it('sends only the kinds notify.events lists', async () => {
    const n = sender({ events: ['dead'] })
    n.start()
    await n.notify('drift', info)
    await n.notify('dead', info)
    await until(() => receiver.received.length === 1, 'the dead notification')
    expect(JSON.parse(receiver.received[0]!.body).type).toBe('secret.dead')
    expect(counts.filter((c) => c.startsWith('drift'))).toEqual([])
  })

  it('never carries a value: the body has exactly the listed fields', async () => {
    const n = sender()
    n.start()
    await n.notify('dead', { ...info, value: VALUE } as typeof info)
    await until(() => receiver.received.length === 1, 'the notification')
    expect(receiver.received[0]!.body).not.toContain(VALUE)
    expect(Object.keys(JSON.parse(receiver.received[0]!.body)).sort()).toEqual(
      ['at', 'eventId', 'name', 'reason', 'source', 'type', 'vault'].sort(),
    )
  })
})
