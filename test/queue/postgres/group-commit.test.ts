// Group commit on PostgreSQL: events enqueued together recorded in one statement, each with the result
// it would have had alone.
import { describe, expect, it } from 'vitest'
import { isRelayError } from '../../../src/errors.js'
import { MAX_EVENTS_PER_STATEMENT } from '../../../src/queue/postgres/enqueue.js'
import type { EnqueueResult, Store } from '../../../src/queue/store.js'
import { adminQuery } from '../../support/postgres.js'
import { LEASE_MS, newEvent, opened, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

describe('postgres store', () => {
  const { open, freshDb } = storesOnFreshDatabases()

  describe('group commit', () => {
    /** How many transactions wrote the events rows (each row carries the id of the one that made it). */
    const transactionsOf = async (url: string) => {
      const { rows } = await adminQuery<{ n: number }>(
        url,
        'SELECT COUNT(DISTINCT xmin::text)::int AS n FROM events',
      )
      return rows[0]?.n
    }

    it('records events enqueued at once in one transaction, each with its own result', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      const first = newEvent(T0, [sealed('v', 'A', 'a1')])
      await store.enqueue(first)
      const events = [
        newEvent(T0 + 1, [sealed('v', 'A', 'a2'), sealed('v', 'B', 'b1')]),
        newEvent(T0 - 1, [sealed('v', 'B', 'b0')]),
        { ...first, secrets: [sealed('v', 'A', 'again')] },
        newEvent(T0 + 2, []),
        newEvent(T0 + 3, [sealed('w', 'A', 'wa'), sealed('w', 'A', 'wa2')]),
      ]
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results).toEqual([
        { duplicate: false, queued: 2, superseded: 0 },
        // B's value at T0 - 1 arrives after the newer b1 of the same batch
        { duplicate: false, queued: 0, superseded: 1 },
        { duplicate: true, queued: 0, superseded: 0 },
        { duplicate: false, queued: 0, superseded: 0 },
        // the later of two values of one name in one event wins, as when enqueued alone
        { duplicate: false, queued: 2, superseded: 0 },
      ])
      expect(await transactionsOf(db.url)).toBe(2)
      expect(await store.counts()).toMatchObject({ queued: 3, superseded: 3 })
      const claimed = await store.claim({ owner: 'w', now: T0 + 10, leaseMs: LEASE_MS, limit: 10 })
      expect(new Map(claimed.map((c) => [`${c.vault}/${c.name}`, opened(c)]))).toEqual(
        new Map([
          ['v/A', 'a2'],
          ['v/B', 'b1'],
          ['w/A', 'wa2'],
        ]),
      )
    })

    it('decides a batch of values of the same names as if each event came alone, in order', async () => {
      // a seeded mix: 5 names in 2 vaults, event times that tie and go backwards, events of 1-3 secrets
      let seed = 7
      const next = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed % n
      }
      const key = () => ({ vault: `v${next(2)}`, name: `N${next(3)}` })
      const before = Array.from({ length: 6 }, (_, i) => ({ time: T0 + next(8), secrets: [key()], i }))
      const batch = Array.from({ length: 60 }, (_, i) => ({
        time: T0 + next(12),
        secrets: Array.from({ length: 1 + next(3) }, key),
        i,
      }))
      const build = (prefix: string, e: (typeof batch)[number]) =>
        newEvent(
          e.time,
          e.secrets.map((k, j) => sealed(k.vault, k.name, `${prefix}${e.i}.${j}`)),
          { eventId: `${prefix}${e.i}` },
        )
      /** The same history on a fresh database: some values queued and delivered, then `write` the batch. */
      const run = async (write: (store: Store, events: ReturnType<typeof build>[]) => Promise<unknown[]>) => {
        const store = await open((await freshDb()).url)
        for (const e of before) await store.enqueue(build('d', e))
        const claimed = await store.claim({ owner: 'w', now: T0 + 100, leaseMs: LEASE_MS, limit: 100 })
        await store.settle(
          'w',
          T0 + 100,
          claimed.filter((c) => c.name !== 'N2').map((c) => ({ id: c.id, kind: 'delivered', version: 1 })),
        )
        const results = await write(
          store,
          batch.map((e) => build('b', e)),
        )
        const events = await Promise.all(batch.map((e) => store.getEvent('stripe', `b${e.i}`)))
        const statuses = events.map((e) => e?.secrets?.map((x) => [x.name, x.status, x.lastError]))
        const queued = await store.claim({ owner: 'x', now: T0 + 200, leaseMs: LEASE_MS, limit: 100 })
        return { results, statuses, queued: queued.map((c) => `${c.vault}/${c.name}=${opened(c)}`).sort() }
      }
      const alone = await run(async (store, events) => {
        const results = []
        for (const e of events) results.push(await store.enqueue(e))
        return results
      })
      const together = await run((store, events) => Promise.all(events.map((e) => store.enqueue(e))))
      expect(together).toEqual(alone)
      expect(alone.results.some((r) => (r as EnqueueResult).superseded > 0)).toBe(true)
      expect(alone.statuses.flat().some((x) => x?.[2] === 'older than the value already delivered')).toBe(
        true,
      )
    })

    it('fails only the event the database refuses, and records the others of its batch', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      // PostgreSQL text cannot hold NUL: the statement holding this event is refused whole
      const bad = newEvent(T0, [sealed('v', 'BAD', 'x')], { eventId: 'evt\u0000nul' })
      const good = Array.from({ length: 6 }, (_, i) => newEvent(T0 + i, [sealed('v', `N${i}`, `x${i}`)]))
      const settled = await Promise.allSettled(
        [...good.slice(0, 3), bad, ...good.slice(3)].map((e) => store.enqueue(e)),
      )
      const refused = settled[3]!
      expect(refused.status).toBe('rejected')
      expect(
        isRelayError(refused.status === 'rejected' ? refused.reason : null, 'ERR_STORE_UNAVAILABLE'),
      ).toBe(true)
      expect(settled.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual(
        good.map(() => ({ duplicate: false, queued: 1, superseded: 0 })),
      )
      expect(await store.counts()).toMatchObject({ queued: 6 })
      expect((await store.listEvents({ limit: 10 })).map((e) => e.eventId).sort()).toEqual(
        good.map((e) => e.eventId).sort(),
      )
    })

    it('splits a burst bigger than one statement takes into several, and records every event', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      const events = Array.from({ length: MAX_EVENTS_PER_STATEMENT * 2 + 10 }, (_, i) =>
        newEvent(T0 + i, [sealed(`v${i % 5}`, `N${i % 50}`, `x${i}`)]),
      )
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results.every((r) => !r.duplicate && r.queued + r.superseded === 1)).toBe(true)
      expect(await store.counts()).toMatchObject({ queued: 50, superseded: events.length - 50 })
      const transactions = await transactionsOf(db.url)
      expect(transactions).toBeGreaterThanOrEqual(3)
      expect(transactions).toBeLessThan(events.length / 10)
    })
  })
})
