// Batches in the SQLite store: a large settle yields the event loop between chunks, and concurrent
// enqueues share one transaction (group commit) without one bad event spoiling the others.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { newEvent, sealed, T0 } from '../contract/helpers.js'
import { sqliteFiles } from './fixtures.js'

describe('sqlite store', () => {
  const file = sqliteFiles()
  const { openStore } = file

  describe('a backlog does not hold the event loop', () => {
    it('settles a large round in chunks, with a turn of the event loop between them, recording all', async () => {
      const store = openStore()
      await store.enqueue(
        newEvent(
          T0,
          Array.from({ length: 250 }, (_, i) => sealed('v', `N${i}`, `value-${i}`)),
        ),
      )
      const claimed = await store.claim({ owner: 'w1', now: T0, leaseMs: 60_000, limit: 500 })
      expect(claimed).toHaveLength(250)
      let turned = false
      setImmediate(() => {
        turned = true
      })
      const failedOnce = [claimed[3]!, claimed[150]!, claimed[249]!]
      await store.settle(
        'w1',
        T0 + 1,
        claimed.map((c) =>
          failedOnce.includes(c)
            ? { id: c.id, kind: 'retry' as const, at: T0 + 5, error: 'down', countAttempt: true }
            : { id: c.id, kind: 'delivered' as const, version: 1 },
        ),
        failedOnce.map((c) => ({
          secretId: c.id,
          at: T0 + 1,
          outcome: 'retry',
          status: '503',
          version: null,
          error: 'down',
        })),
      )
      // a synchronous settle would resolve before any setImmediate callback ran
      expect(turned).toBe(true)
      expect((await store.counts()).delivered).toBe(247)
      const p = await store.getProvenance(claimed[0]!.source, claimed[0]!.eventId)
      for (const c of failedOnce) expect(p?.attempts[c.id]?.map((a) => a.outcome)).toEqual(['retry'])
      expect(p?.attempts[claimed[0]!.id]?.map((a) => a.outcome)).toEqual(['delivered'])
      expect(Object.keys(p?.attempts ?? {})).toHaveLength(250)
    })
  })

  describe('group commit', () => {
    it('commits a burst of 100 enqueues in one transaction', async () => {
      const store = openStore()
      const before = store.stats().enqueueTransactions
      const events = Array.from({ length: 100 }, (_, i) => newEvent(T0, [sealed('v', `N${i}`, 'x')]))
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results.every((r) => r.queued === 1)).toBe(true)
      expect(store.stats().enqueueTransactions - before).toBe(1)
      // enqueues awaited one by one each get their own transaction
      await store.enqueue(newEvent(T0, []))
      await store.enqueue(newEvent(T0, []))
      expect(store.stats()).toMatchObject({ enqueueTransactions: before + 3, enqueuedEvents: 102 })
    })

    it('rejects every caller of a failed batch and commits none of it', async () => {
      const store = openStore()
      await store.ping()
      const db = new Database(file.path)
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON secrets WHEN NEW.name = 'BOOM'
        BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
      const good = newEvent(T0, [sealed('v', 'A', 'a')])
      const bad = newEvent(T0, [sealed('v', 'BOOM', 'b')])
      const settled = await Promise.allSettled([store.enqueue(good), store.enqueue(bad)])
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
      expect(settled[0]).toMatchObject({ reason: { code: 'ERR_STORE_UNAVAILABLE' } })
      expect(await store.getEvent(good.source, good.eventId)).toBeNull()
      db.exec('DROP TRIGGER refuse')
      db.close()
      expect(await store.enqueue(good)).toMatchObject({ duplicate: false, queued: 1 })
    })

    it('refuses a malformed event alone, without spoiling the batch it would have joined', async () => {
      const store = openStore()
      const good = newEvent(T0, [sealed('v', 'A', 'a')])
      const bad = newEvent(Number.NaN, [sealed('v', 'B', 'b')])
      const settled = await Promise.allSettled([store.enqueue(good), store.enqueue(bad)])
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected'])
    })
  })
})
