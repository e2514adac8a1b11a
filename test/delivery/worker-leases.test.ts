// The worker's leases: renewed while RWX takes its time, and given up (requests cancelled) before a lease
// it could not renew runs out.
import { afterEach, describe, expect, it } from 'vitest'
import type { Claimed, Store } from '../../src/queue/store.js'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('delivery leases', () => {
  it('keeps the lease of a delivery that takes longer than the lease: no other worker takes it', async () => {
    // a 1 s lease, renewed every third of it; RWX holds the request 2.5 s
    h = await createHarness({ config: { leaseSeconds: 1, requestTimeoutMs: 10_000 } })
    const harness = h
    harness.fake.delay(2_500, 1)
    const id = await harness.enqueue([{ name: 'A', value: 'slow' }])
    await harness.fake.waitFor((_, requests) => requests.length === 1)
    const sentAt = Date.now()
    const taken: Claimed[] = []
    let lastTry = 0
    await harness.until(async () => {
      lastTry = Date.now()
      taken.push(...(await harness.store.claim({ owner: 'other', now: lastTry, leaseMs: 1_000, limit: 10 })))
      return allIn(harness, id, 'delivered')
    }, 8_000)
    expect(lastTry - sentAt, 'the other worker tried past the first lease').toBeGreaterThan(1_000)
    expect(taken).toEqual([])
    expect(harness.fake.writes.filter((w) => w.name === 'A')).toHaveLength(1)
  })

  it('cancels its request before a lease it cannot renew runs out, and fences the name', async () => {
    // marking before the request works; the heartbeat's renewals fail (the store is out, say)
    const failing = (store: Store): Store =>
      new Proxy(store, {
        get(target, key, receiver) {
          if (key !== 'renew') return Reflect.get(target, key, receiver)
          return (options: Parameters<Store['renew']>[0]) =>
            options.sending ? target.renew(options) : Promise.reject(new Error('the store is out'))
        },
      })
    h = await createHarness({
      config: { leaseSeconds: 1, requestTimeoutMs: 30_000, uncertainWriteSeconds: 60 },
      workerStore: failing,
    })
    const harness = h
    harness.fake.delay(20_000, 1)
    const id = await harness.enqueue([{ name: 'A', value: 'stuck' }])
    await harness.fake.waitFor((_, requests) => requests.length === 1)
    // well before RWX answers (20 s) or the request times out (30 s)
    await harness.until(async () => (await harness.secrets(id))[0]?.lastError !== null, 5_000)
    const [secret] = await harness.secrets(id)
    expect(secret).toMatchObject({
      status: 'queued',
      lastError: 'request to RWX cancelled (the lease could not be renewed)',
    })
    expect(harness.logs.join('')).toContain('the delivery leases could not be renewed in time')
    // the cancelled write may still land: nobody sends the name before uncertainWriteSeconds
    const now = Date.now()
    expect(await harness.store.claim({ owner: 'other', now: now + 10, leaseMs: 1_000, limit: 10 })).toEqual(
      [],
    )
    const later = await harness.store.claim({ owner: 'other', now: now + 60_100, leaseMs: 1_000, limit: 10 })
    expect(later.map((c) => [c.name, c.unconfirmed])).toEqual([['A', true]])
  })
})
