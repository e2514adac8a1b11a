// Two replicas on one PostgreSQL outbox: each notification reaches the receiver once, whichever sends it.
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createNotifier, type NotificationSender } from '../../src/notify/notifier.js'
import { storesOnFreshDatabases } from '../queue/postgres/fixtures.js'
import { until } from '../support/until.js'
import { type Receiver, startReceiver } from './receiver.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

describe('notifications with PostgreSQL replicas', () => {
  const { open, freshDb } = storesOnFreshDatabases()
  const senders: NotificationSender[] = []
  let receiver: Receiver | undefined
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.stop()
    await receiver?.close()
  })

  it('queued by one replica, sent once by either, each with its own stable webhook-id', async () => {
    receiver = await startReceiver(SECRET)
    const db = await freshDb()
    const stores = [await open(db.url), await open(db.url)]
    const sentBy: string[] = []
    for (const [i, store] of stores.entries()) {
      const s = createNotifier({
        store,
        config: {
          url: receiver.url,
          secret: SECRET,
          events: ['dead', 'drift', 'outside-change'],
          timeoutMs: 2_000,
          maxAttempts: 3,
          backoffBaseMs: 5,
          backoffMaxMs: 20,
        },
        log: pino({ level: 'silent' }),
        owner: `replica-${i}`,
        pollMs: 20,
        counted: (_kind, outcome) => {
          if (outcome === 'sent') sentBy.push(`replica-${i}`)
        },
      })
      senders.push(s)
      s.start()
    }
    for (let n = 0; n < 12; n++)
      await senders[0]!.notify('dead', {
        vault: 'ci',
        name: `N${n}`,
        source: 'ci',
        eventId: `evt_${n}`,
        reason: 'refused',
      })
    await until(() => sentBy.length === 12, 'every notification sent')
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(receiver.received.every((r) => r.verified)).toBe(true)
    expect(new Set(ids).size).toBe(12)
    expect(ids).toHaveLength(12)
    const names = receiver.received.map((r) => (JSON.parse(r.body) as { name: string }).name).sort()
    expect(names).toEqual(Array.from({ length: 12 }, (_, n) => `N${n}`).sort())
    expect(await stores[1]!.nextNotificationAt()).toBeNull()
  })
})
