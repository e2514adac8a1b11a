// Delivery notifies: a secret that goes dead and an outside change found by reading back reach the receiver.
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { notifyingListener } from '../../src/notify/events.js'
import { createNotifier, type NotificationSender } from '../../src/notify/notifier.js'
import { allIn, createHarness, type Harness } from '../delivery/harness.js'
import { type Receiver, startReceiver } from './receiver.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

let h: Harness | undefined
let receiver: Receiver
let notifier: NotificationSender | undefined
const logs: string[] = []

beforeEach(async () => {
  receiver = await startReceiver(SECRET)
  logs.length = 0
})
afterEach(async () => {
  await notifier?.stop()
  await h?.close()
  await receiver.close()
})

/** A harness whose worker notifies through a notifier on the harness's own store. */
async function notifyingHarness(config: { verify?: boolean } = {}): Promise<Harness> {
  let inner: NotificationSender | undefined
  const relay = {
    notify: (...args: Parameters<NotificationSender['notify']>) => inner!.notify(...args),
  }
  h = await createHarness({ config, events: { onSignal: notifyingListener(relay) } })
  inner = createNotifier({
    store: h.store,
    config: {
      url: receiver.url,
      secret: SECRET,
      events: ['dead', 'drift', 'outside-change'],
      timeoutMs: 2_000,
      maxAttempts: 3,
      backoffBaseMs: 5,
      backoffMaxMs: 20,
    },
    log: pino({ level: 'debug' }, { write: (l: string) => logs.push(l) }),
    owner: 'test',
    pollMs: 50,
  })
  notifier = inner
  inner.start()
  return h
}

const bodies = () => receiver.received.map((r) => JSON.parse(r.body) as Record<string, unknown>)

describe('delivery notifications', () => {
  it('a secret RWX refuses goes dead and is announced as secret.dead, signed, without its value', async () => {
    const harness = await notifyingHarness()
    harness.fake.rejectNames((n) => n === 'REFUSED')
    const value = 'Zx9q8Wm4Kj'
    const id = await harness.enqueue([{ name: 'REFUSED', value }])
    await harness.until(() => allIn(harness, id, 'dead'))
    await harness.until(() => receiver.received.length === 1)
    expect(receiver.received[0]!.verified).toBe(true)
    const [body] = bodies()
    expect(body).toMatchObject({
      type: 'secret.dead',
      vault: 'payments',
      name: 'REFUSED',
      source: 'test',
      eventId: id,
    })
    expect(body!.reason).toMatch(/REFUSED: name can only include/)
    for (const text of [receiver.received[0]!.body, ...harness.logs, ...logs])
      expect(text).not.toContain(value)
  })

  it('an older version read back is announced as secret.outside_change, the delivery stands', async () => {
    const harness = await notifyingHarness({ verify: true })
    harness.fake.overrideReads((_v, name) => (name === 'A' ? 0 : undefined))
    const value = 'value-a2-do-not-leak'
    const id = await harness.enqueue([{ name: 'A', value }])
    await harness.until(() => receiver.received.length === 1)
    expect(await allIn(harness, id, 'delivered')).toBe(true)
    expect(bodies()[0]).toMatchObject({
      type: 'secret.outside_change',
      vault: 'payments',
      name: 'A',
      source: 'test',
      eventId: id,
      reason: 'RWX holds version 0, older than version 1 the relay wrote',
    })
    for (const text of [receiver.received[0]!.body, ...harness.logs, ...logs])
      expect(text).not.toContain(value)
  })
})
