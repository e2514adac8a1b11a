// Store contract, discard: an event's queued and dead secrets end discarded, their values (kept ones too)
// erased; delivered and superseded ones stay as they were.
import { describe, expect, it } from 'vitest'
import { type ContractContext, claim, newEvent, referenced, sealed, statusesOf, T0 } from './helpers.js'

export function discardContract(ctx: ContractContext): void {
  describe('discard', () => {
    it('discards an event’s queued secrets and leaves the delivered ones', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')])
      await ctx.store.enqueue(event)
      const [a] = await claim(ctx.store, T0, 'w1', 1)
      await ctx.store.settle('w1', T0, [{ id: a!.id, kind: 'delivered', version: 1 }])
      expect(await ctx.store.discardEvent(event.source, event.eventId, T0 + 1)).toBe(1)
      expect(await statusesOf(ctx.store, event)).toEqual(['delivered', 'discarded'])
      expect(await claim(ctx.store, T0 + 2)).toEqual([])
      expect(await ctx.store.nextDueAt()).toBeNull()
    })

    it('discards dead secrets (a value and a reference), which no retry brings back', async () => {
      const event = newEvent(T0, [sealed('v', 'VAL', 'x'), referenced('v', 'REF', { secretId: 'db' })])
      await ctx.store.enqueue(event)
      const claimed = await claim(ctx.store, T0)
      await ctx.store.settle(
        'w1',
        T0,
        claimed.map((c) => ({ id: c.id, kind: 'dead' as const, error: 'gave up' })),
      )
      expect(await statusesOf(ctx.store, event)).toEqual(['dead', 'dead'])
      expect(await ctx.store.discardEvent(event.source, event.eventId, T0 + 1)).toBe(2)
      expect(await statusesOf(ctx.store, event)).toEqual(['discarded', 'discarded'])
      expect(await ctx.store.counts()).toMatchObject({ dead: 0, discarded: 2 })
      expect(await ctx.store.listEvents({ limit: 10, status: 'dead' })).toEqual([])
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 2)).toBe(0)
      expect(await claim(ctx.store, T0 + 2)).toEqual([])
      // a second discard changes nothing, and says so
      expect(await ctx.store.discardEvent(event.source, event.eventId, T0 + 3)).toBe(0)
    })

    it('erases a dead value kept for a retry when its secret is discarded', async () => {
      const event = newEvent(T0, [sealed('v', 'KEPT', 'kept-value')])
      await ctx.store.enqueue(event)
      const [kept] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        { id: kept!.id, kind: 'dead', error: 'gave up', keepValueUntil: T0 + 1_000 },
      ])
      expect(await ctx.store.discardEvent(event.source, event.eventId, T0 + 1)).toBe(1)
      expect(await statusesOf(ctx.store, event)).toEqual(['discarded'])
      // the kept value is gone already: nothing is left to erase at its time, and a retry finds nothing
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 2)).toBe(0)
      expect(await ctx.store.eraseDeadValues(T0 + 1_000)).toBe(0)
    })

    it('leaves superseded and delivered secrets as they are, and discards only the dead one', async () => {
      const old = newEvent(T0, [sealed('v', 'A', 'old'), sealed('v', 'B', 'b')])
      await ctx.store.enqueue(old)
      const claimed = await claim(ctx.store, T0)
      const b = claimed.find((c) => c.name === 'B')!
      const a = claimed.find((c) => c.name === 'A')!
      await ctx.store.settle('w1', T0, [
        { id: b.id, kind: 'dead', error: 'gave up' },
        { id: a.id, kind: 'delivered', version: 1 },
      ])
      const newer = newEvent(T0 + 1_000, [sealed('v', 'A', 'new'), sealed('v', 'C', 'c')])
      await ctx.store.enqueue(newer)
      const [n1, n2] = await claim(ctx.store, T0 + 1)
      await ctx.store.settle('w1', T0 + 2, [{ id: n1!.id, kind: 'delivered', version: 2 }])
      await ctx.store.settle('w1', T0 + 2, [{ id: n2!.id, kind: 'delivered', version: 1 }])
      // a value older than the one delivered is superseded when it comes again
      const older = newEvent(T0 + 500, [sealed('v', 'A', 'older')])
      await ctx.store.enqueue(older)
      expect(await statusesOf(ctx.store, older)).toEqual(['superseded'])
      expect(await ctx.store.discardEvent(older.source, older.eventId, T0 + 3)).toBe(0)
      expect(await statusesOf(ctx.store, older)).toEqual(['superseded'])
      expect(await ctx.store.discardEvent(old.source, old.eventId, T0 + 3)).toBe(1)
      expect(await statusesOf(ctx.store, old)).toEqual(['delivered', 'discarded'])
    })
  })
}
