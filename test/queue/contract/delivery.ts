// Store contract, delivery: leases (one name at a time), outcomes, release and the next due time.
import { describe, expect, it } from 'vitest'
import {
  type ContractContext,
  claim,
  LEASE_MS,
  newEvent,
  opened,
  recordOf,
  referenced,
  sealed,
  T0,
} from './helpers.js'

export function deliveryContract(ctx: ContractContext): void {
  describe('claim', () => {
    it('leases due secrets oldest first and not again while the lease lives', async () => {
      for (const [name, at] of [
        ['C', 30],
        ['A', 10],
        ['B', 20],
      ] as const) {
        await ctx.store.enqueue(newEvent(T0, [sealed('v', name, name)], { receivedAt: T0 + at }))
      }
      expect((await claim(ctx.store, T0 + 100, 'w1', 2)).map((c) => c.name)).toEqual(['A', 'B'])
      expect((await claim(ctx.store, T0 + 100, 'w2')).map((c) => c.name)).toEqual(['C'])
      expect(await claim(ctx.store, T0 + 100 + LEASE_MS - 1, 'w3')).toEqual([])
    })

    it('claims nothing before it is due', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 + 1000 }))
      expect(await claim(ctx.store, T0 + 999)).toEqual([])
      expect(await claim(ctx.store, T0 + 1000)).toHaveLength(1)
    })

    it('holds back a newer value while the older one is being sent, then claims it', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'old')]))
      const [inFlight] = await claim(ctx.store, T0)
      await ctx.store.enqueue(newEvent(T0 + 1000, [sealed('v', 'A', 'new'), sealed('v', 'OTHER', 'x')]))
      expect((await claim(ctx.store, T0 + 10, 'w2')).map(opened)).toEqual(['x'])
      expect(await claim(ctx.store, T0 + 20, 'w2')).toEqual([])
      await ctx.store.settle('w1', T0 + 30, [{ id: inFlight!.id, kind: 'delivered', version: 1 }])
      expect((await claim(ctx.store, T0 + 40, 'w2')).map(opened)).toEqual(['new'])
    })

    it('keeps a value superseded while in flight superseded when its send succeeds', async () => {
      const old = newEvent(T0, [sealed('v', 'A', 'old')])
      await ctx.store.enqueue(old)
      const [inFlight] = await claim(ctx.store, T0)
      await ctx.store.enqueue(newEvent(T0 + 1000, [sealed('v', 'A', 'new')]))
      await ctx.store.settle('w1', T0 + 30, [{ id: inFlight!.id, kind: 'delivered', version: 4 }])
      expect(await recordOf(ctx.store, old)).toMatchObject({
        status: 'superseded',
        rwxVersion: 4,
        deliveredAt: T0 + 30,
      })
      // RWX now holds the old value: anything older than it is refused, the newer one still goes
      const older = newEvent(T0 - 1000, [sealed('v', 'A', 'older')])
      expect(await ctx.store.enqueue(older)).toMatchObject({ superseded: 1 })
      expect((await claim(ctx.store, T0 + 40)).map(opened)).toEqual(['new'])
    })

    it('stops holding back a name once the in-flight lease has expired', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'old')]))
      await claim(ctx.store, T0)
      await ctx.store.enqueue(newEvent(T0 + 1000, [sealed('v', 'A', 'new')]))
      expect((await claim(ctx.store, T0 + LEASE_MS, 'w2')).map(opened)).toEqual(['new'])
    })

    it('lets another owner take an expired lease and ignores the old owner afterwards', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [first] = await claim(ctx.store, T0, 'w1')
      expect(await claim(ctx.store, T0 + LEASE_MS - 1, 'w2')).toEqual([])
      const [second] = await claim(ctx.store, T0 + LEASE_MS, 'w2')
      expect(second?.id).toBe(first?.id)
      await ctx.store.settle('w1', T0 + LEASE_MS + 1, [{ id: first!.id, kind: 'dead', error: 'late' }])
      expect(await recordOf(ctx.store, event)).toMatchObject({ status: 'queued', lastError: null })
      await ctx.store.settle('w2', T0 + LEASE_MS + 2, [{ id: second!.id, kind: 'delivered', version: 1 }])
      expect(await recordOf(ctx.store, event)).toMatchObject({ status: 'delivered', attempts: 1 })
    })
  })

  describe('settle', () => {
    it('marks a delivered secret with its RWX version and erases its value', async () => {
      const event = newEvent(T0, [referenced('v', 'A', { secretId: 'db' })])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0 + 50, [
        { id: c!.id, kind: 'delivered', version: 7, fingerprint: 'fp_1' },
      ])
      expect(await recordOf(ctx.store, event)).toMatchObject({
        status: 'delivered',
        rwxVersion: 7,
        deliveredAt: T0 + 50,
        attempts: 1,
        nextAttemptAt: null,
        fingerprint: 'fp_1',
        updatedAt: T0 + 50,
      })
      expect(await claim(ctx.store, T0 + LEASE_MS * 2)).toEqual([])
      expect(await ctx.store.counts()).toMatchObject({ queued: 0, delivered: 1 })
    })

    it('makes a retried secret due again at the given time, counting the attempt', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0 + 10, [
        { id: c!.id, kind: 'retry', at: T0 + 5000, error: 'RWX answered 503', countAttempt: true },
      ])
      expect(await recordOf(ctx.store, event)).toMatchObject({
        status: 'queued',
        attempts: 1,
        nextAttemptAt: T0 + 5000,
        lastError: 'RWX answered 503',
      })
      expect(await claim(ctx.store, T0 + 4999, 'w2')).toEqual([])
      const [again] = await claim(ctx.store, T0 + 5000, 'w2')
      expect(again).toMatchObject({ attempts: 1, solo: false })
      expect(opened(again!)).toBe('a')
    })

    it('keeps the attempts of a retry that does not count, and remembers to send alone', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        {
          id: c!.id,
          kind: 'retry',
          at: T0 + 1,
          error: 'RWX refused the token',
          countAttempt: false,
          solo: true,
        },
      ])
      const [again] = await claim(ctx.store, T0 + 1)
      expect(again).toMatchObject({ attempts: 0, solo: true })
      await ctx.store.settle('w1', T0 + 1, [
        { id: c!.id, kind: 'retry', at: T0 + 2, error: 'x', countAttempt: true },
      ])
      expect(await claim(ctx.store, T0 + 2)).toMatchObject([{ attempts: 1, solo: true }])
    })

    it('marks a dead secret with the reason and never delivers it', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0 + 5, [{ id: c!.id, kind: 'dead', error: 'RWX refused: bad name' }])
      expect(await recordOf(ctx.store, event)).toMatchObject({
        status: 'dead',
        lastError: 'RWX refused: bad name',
      })
      expect(await claim(ctx.store, T0 + LEASE_MS * 2)).toEqual([])
      expect(await ctx.store.nextDueAt()).toBeNull()
      expect(await ctx.store.counts()).toMatchObject({ queued: 0, dead: 1 })
    })

    it('marks a secret superseded when the worker finds it outdated', async () => {
      const event = newEvent(T0, [referenced('v', 'A', { secretId: 'db', versionId: 'old' })])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        { id: c!.id, kind: 'superseded', error: 'version is no longer current' },
      ])
      expect(await recordOf(ctx.store, event)).toMatchObject({
        status: 'superseded',
        lastError: 'version is no longer current',
      })
    })

    it('ignores outcomes for secrets the owner does not hold', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0, 'w1')
      await ctx.store.settle('w2', T0, [{ id: c!.id, kind: 'delivered', version: 1 }])
      expect(await recordOf(ctx.store, event)).toMatchObject({ status: 'queued', attempts: 0 })
      expect(await claim(ctx.store, T0 + 1, 'w2')).toEqual([])
    })

    it('records several outcomes at once', async () => {
      await ctx.store.enqueue(
        newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b'), sealed('v', 'C', 'c')]),
      )
      const [a, b, c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        { id: a!.id, kind: 'delivered', version: 1 },
        { id: b!.id, kind: 'dead', error: 'refused' },
        { id: c!.id, kind: 'retry', at: T0 + 100, error: 'timeout', countAttempt: true },
      ])
      expect(await ctx.store.counts()).toMatchObject({ delivered: 1, dead: 1, queued: 1 })
    })
  })

  describe('release and due time', () => {
    it('gives an owner’s leases back for anyone to claim, as due as before', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'B', 'b')]))
      await claim(ctx.store, T0, 'w1', 1)
      await claim(ctx.store, T0, 'w2', 1)
      await ctx.store.release('w1')
      const [c] = await claim(ctx.store, T0 + 1, 'w3')
      expect(c).toMatchObject({ name: 'A', attempts: 0 })
      expect(await claim(ctx.store, T0 + 1, 'w3')).toEqual([])
    })

    it('reports when the next secret can be claimed', async () => {
      expect(await ctx.store.nextDueAt()).toBeNull()
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 + 500 }))
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'B', 'b')], { receivedAt: T0 + 200 }))
      expect(await ctx.store.nextDueAt()).toBe(T0 + 200)
      await claim(ctx.store, T0 + 300, 'w1', 1)
      expect(await ctx.store.nextDueAt()).toBe(T0 + 500)
      await claim(ctx.store, T0 + 600, 'w1', 1)
      expect(await ctx.store.nextDueAt()).toBe(T0 + 300 + LEASE_MS)
    })

    it('reports a name held back by an in-flight value as due when that lease ends', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'old')]))
      await claim(ctx.store, T0 + 100)
      await ctx.store.enqueue(newEvent(T0 + 1, [sealed('v', 'A', 'new')], { receivedAt: T0 + 200 }))
      expect(await ctx.store.nextDueAt()).toBe(T0 + 100 + LEASE_MS)
    })
  })
}
