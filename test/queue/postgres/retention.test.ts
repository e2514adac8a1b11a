// Purging on PostgreSQL while other stores purge, hold events, or re-queue them.
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/queue/store.js'
import { adminQuery } from '../../support/postgres.js'
import { LEASE_MS, newEvent, referenced, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

describe('postgres store', () => {
  const { open, freshDb } = storesOnFreshDatabases()

  describe('retention', () => {
    const DAY = 86_400_000
    const count = async (url: string, table: 'events' | 'secrets' | 'names') =>
      (await adminQuery<{ n: number }>(url, `SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0]?.n

    /** `n` events received from T0, one secret each, all delivered. */
    async function deliveredEvents(store: Store, n: number): Promise<void> {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.enqueue(newEvent(T0, [sealed('v', `N${i}`, `x${i}`)], { receivedAt: T0 + i })),
        ),
      )
      const claimed = await store.claim({ owner: 'w', now: T0 + n, leaseMs: LEASE_MS, limit: n })
      await store.settle(
        'w',
        T0 + n,
        claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
      )
    }

    it('lets two stores purge at once: each event is deleted once and neither fails', async () => {
      const db = await freshDb()
      const [a, b] = await Promise.all([open(db.url), open(db.url)])
      await deliveredEvents(a, 300)
      expect(await count(db.url, 'names')).toBe(300)
      const before = T0 + DAY
      const wave = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).purge(before, 25)),
      )
      // a purge whose snapshot predates another's commit finds fewer: what is left goes in later calls
      let total = wave.reduce((x, y) => x + y, 0)
      for (;;) {
        const n = await b.purge(before, 100)
        total += n
        if (n === 0) break
      }
      expect(total).toBe(300)
      expect(await count(db.url, 'events')).toBe(0)
      expect(await count(db.url, 'secrets')).toBe(0)
      expect(await count(db.url, 'names')).toBe(300)
    })

    it('skips an event another transaction holds, without waiting for it', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      await deliveredEvents(store, 2)
      const held = new pg.Client({ connectionString: db.url })
      await held.connect()
      try {
        await held.query('BEGIN')
        // what an admin retry of the oldest event holds while it re-queues
        await held.query('SELECT id FROM events ORDER BY received_at LIMIT 1 FOR KEY SHARE')
        expect(await store.purge(T0 + DAY, 100)).toBe(1)
        await held.query('COMMIT')
      } finally {
        await held.end()
      }
      expect(await store.purge(T0 + DAY, 100)).toBe(1)
    })

    it('never deletes a secret an admin retry re-queues meanwhile', async () => {
      const db = await freshDb()
      const [a, b] = await Promise.all([open(db.url), open(db.url)])
      const events = Array.from({ length: 40 }, (_, i) =>
        newEvent(T0, [referenced('v', `R${i}`, { secretId: `db${i}` })], { receivedAt: T0 + i }),
      )
      for (const e of events) await a.enqueue(e)
      const claimed = await a.claim({ owner: 'w', now: T0 + 50, leaseMs: LEASE_MS, limit: 40 })
      await a.settle(
        'w',
        T0 + 50,
        claimed.map((c) => ({ id: c.id, kind: 'dead' as const, error: 'AWS said no' })),
      )
      // retries and purges of the same events, racing
      const [retried, purged] = await Promise.all([
        Promise.all(events.map((e) => a.retryEvent(e.source, e.eventId, T0 + DAY))),
        Promise.all(Array.from({ length: 10 }, () => b.purge(T0 + DAY, 3))),
      ])
      const requeued = retried.filter((n) => n === 1).length
      expect(requeued + purged.reduce((x, y) => x + y, 0)).toBe(40)
      for (const [i, e] of events.entries()) {
        const shown = await a.getEvent(e.source, e.eventId)
        // a retry that answered 1 left a queued secret; one that answered 0 found the event purged
        if (retried[i] === 1) expect(shown?.counts).toEqual({ queued: 1 })
        else expect(shown).toBeNull()
      }
      expect((await a.counts()).queued).toBe(requeued)
    })
  })
})
