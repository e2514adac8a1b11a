// Store contract, retention: purging old finished events and their secrets, never what is still waiting
// or in flight, and never the never-regress watermark.
//
// Each test queues a recent event last: SQLite keeps the event of the newest secret whatever its age (its
// secret ids must only grow), so that event is never one a test expects to go.
import { describe, expect, it } from 'vitest'
import type { NewEvent, Store } from '../../../src/queue/store.js'
import {
  type ContractContext,
  claim,
  LEASE_MS,
  newEvent,
  opened,
  recordOf,
  sealed,
  statusesOf,
  T0,
} from './helpers.js'

const DAY = 86_400_000

/** Claims everything due at `now` and records it delivered. */
async function deliverAll(store: Store, now: number): Promise<void> {
  const claimed = await claim(store, now)
  await store.settle(
    'w1',
    now,
    claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
  )
}

/** The ids of the events still in the store, oldest first. */
async function remaining(store: Store): Promise<string[]> {
  return (await store.listEvents({ limit: 1000 })).map((e) => e.eventId).reverse()
}

export function retentionContract(ctx: ContractContext): void {
  describe('purge', () => {
    it('deletes old finished events with their secrets, and keeps waiting and recent ones', async () => {
      const delivered = newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 })
      const dead = newEvent(T0, [sealed('v', 'B', 'b')], { receivedAt: T0 })
      const superseded = newEvent(T0, [sealed('v', 'C', 'c-old')], { receivedAt: T0 })
      const newer = newEvent(T0 + 1, [sealed('v', 'C', 'c-new')], { receivedAt: T0 + 1 })
      const discarded = newEvent(T0, [sealed('v', 'D', 'd')], { receivedAt: T0 + 2 })
      const empty = newEvent(T0, [], { receivedAt: T0 + 3 })
      const waiting = newEvent(T0, [sealed('v', 'E', 'e')], { receivedAt: T0 + 4 })
      for (const e of [delivered, dead, superseded, newer, discarded, empty, waiting]) {
        await ctx.store.enqueue(e)
      }
      expect(await ctx.store.discardEvent(discarded.source, discarded.eventId, T0 + 5)).toBe(1)
      const claimed = await claim(ctx.store, T0 + 10)
      const outcome = (name: string, kind: 'delivered' | 'dead' | 'retry') => {
        const id = claimed.find((c) => c.name === name)!.id
        if (kind === 'delivered') return { id, kind, version: 1 }
        if (kind === 'dead') return { id, kind, error: 'refused' }
        return { id, kind, at: T0 + DAY, error: 'try later', countAttempt: true }
      }
      await ctx.store.settle('w1', T0 + 10, [
        outcome('A', 'delivered'),
        outcome('B', 'dead'),
        outcome('C', 'delivered'),
        outcome('E', 'retry'),
      ])
      // `before` is exclusive: an event received at that instant stays
      const before = T0 + 1000
      const recent = newEvent(T0, [sealed('v', 'F', 'f')], { receivedAt: before })
      await ctx.store.enqueue(recent)
      await deliverAll(ctx.store, before)

      expect(await ctx.store.purge(before, 100)).toBe(6)
      expect(await remaining(ctx.store)).toEqual([waiting.eventId, recent.eventId])
      for (const gone of [delivered, dead, superseded, newer, discarded, empty]) {
        expect(await ctx.store.getEvent(gone.source, gone.eventId)).toBeNull()
      }
      // the secrets went with their events
      expect(await ctx.store.counts()).toEqual({
        queued: 1,
        delivered: 1,
        dead: 0,
        superseded: 0,
        discarded: 0,
      })
      expect((await claim(ctx.store, T0 + DAY)).map(opened)).toEqual(['e'])
      expect(await ctx.store.purge(before, 100)).toBe(0)
    })

    it('keeps an event whose superseded value is still in flight, and deletes it once settled', async () => {
      const old = newEvent(T0, [sealed('v', 'A', 'old')], { receivedAt: T0 })
      await ctx.store.enqueue(old)
      const [inFlight] = await claim(ctx.store, T0)
      const newer = newEvent(T0 + 1, [sealed('v', 'A', 'new')], { receivedAt: T0 + 10 })
      await ctx.store.enqueue(newer)
      expect(await statusesOf(ctx.store, old)).toEqual(['superseded'])

      expect(await ctx.store.purge(T0 + 20, 100)).toBe(0)
      // its lease is what holds the newer value back until the old one is sent
      expect(await claim(ctx.store, T0 + 20)).toEqual([])
      await ctx.store.settle('w1', T0 + 30, [{ id: inFlight!.id, kind: 'delivered', version: 1 }])
      expect(await ctx.store.purge(T0 + 20, 100)).toBe(1)
      expect(await remaining(ctx.store)).toEqual([newer.eventId])
      expect((await claim(ctx.store, T0 + 40)).map(opened)).toEqual(['new'])
    })

    it('deletes an event whose lease ended before `before` (its worker died)', async () => {
      const old = newEvent(T0, [sealed('v', 'A', 'old')], { receivedAt: T0 })
      await ctx.store.enqueue(old)
      expect(await claim(ctx.store, T0, 'died')).toHaveLength(1)
      const newer = newEvent(T0 + 1, [sealed('v', 'A', 'new')], { receivedAt: T0 + 10 })
      await ctx.store.enqueue(newer)
      expect(await ctx.store.purge(T0 + LEASE_MS - 1, 100)).toBe(0)
      expect(await ctx.store.purge(T0 + LEASE_MS, 100)).toBe(1)
      expect(await remaining(ctx.store)).toEqual([newer.eventId])
    })

    it('deletes at most `limit` events a call, oldest first', async () => {
      const old = [4, 0, 3, 1, 2].map((i) =>
        newEvent(T0, [sealed('v', `N${i}`, `n${i}`)], { receivedAt: T0 + i }),
      )
      for (const e of old) await ctx.store.enqueue(e)
      await deliverAll(ctx.store, T0 + 10)
      const anchor = newEvent(T0, [sealed('v', 'LAST', 'x')], { receivedAt: T0 + DAY })
      await ctx.store.enqueue(anchor)
      const byAge = [1, 3, 4, 2, 0].map((k) => old[k]!.eventId)

      expect(await ctx.store.purge(T0 + 100, 0)).toBe(0)
      expect(await ctx.store.purge(T0 + 100, 2)).toBe(2)
      expect(await remaining(ctx.store)).toEqual([...byAge.slice(2), anchor.eventId])
      expect(await ctx.store.purge(T0 + 100, 2)).toBe(2)
      expect(await ctx.store.purge(T0 + 100, 2)).toBe(1)
      expect(await ctx.store.purge(T0 + 100, 2)).toBe(0)
      expect(await remaining(ctx.store)).toEqual([anchor.eventId])
    })

    it('keeps the never-regress watermark: a late older event for a delivered name is superseded', async () => {
      const delivered = newEvent(T0 + 1000, [sealed('v', 'A', 'delivered')], { receivedAt: T0 })
      await ctx.store.enqueue(delivered)
      await deliverAll(ctx.store, T0)
      const other = newEvent(T0, [sealed('v', 'B', 'b')], { receivedAt: T0 + DAY })
      await ctx.store.enqueue(other)
      expect(await ctx.store.purge(T0 + 1, 100)).toBe(1)
      expect(await ctx.store.getEvent(delivered.source, delivered.eventId)).toBeNull()

      const late = newEvent(T0, [sealed('v', 'A', 'older')], { receivedAt: T0 + DAY + 1 })
      expect(await ctx.store.enqueue(late)).toEqual({ duplicate: false, queued: 0, superseded: 1 })
      expect(await recordOf(ctx.store, late)).toMatchObject({
        status: 'superseded',
        lastError: expect.stringMatching(/older than the value already delivered/),
      })
      const newest = newEvent(T0 + 2000, [sealed('v', 'A', 'newest')], { receivedAt: T0 + DAY + 2 })
      expect(await ctx.store.enqueue(newest)).toMatchObject({ queued: 1 })
      expect((await claim(ctx.store, T0 + DAY + 2)).map(opened).sort()).toEqual(['b', 'newest'])
    })

    it('forgets a purged event’s id: the same event is accepted again as new', async () => {
      // the dedup key goes with the event, which is why retention must outlast providers' retries
      const event: NewEvent = newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 })
      await ctx.store.enqueue(event)
      await deliverAll(ctx.store, T0)
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'B', 'b')], { receivedAt: T0 + DAY }))
      expect(await ctx.store.enqueue(event)).toMatchObject({ duplicate: true })
      expect(await ctx.store.purge(T0 + 1, 100)).toBe(1)
      expect(await ctx.store.enqueue({ ...event, receivedAt: T0 + DAY + 1 })).toEqual({
        duplicate: false,
        queued: 1,
        superseded: 0,
      })
    })
  })
}
