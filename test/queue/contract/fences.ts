// Store contract, fences: a write whose outcome is unknown holds its name until it can no longer land,
// and the name's next write is marked for confirmation until one is confirmed.
import { describe, expect, it } from 'vitest'
import { type ContractContext, claim, newEvent, opened, sealed, T0 } from './helpers.js'

export function fencesContract(ctx: ContractContext): void {
  describe('fences', () => {
    it('holds a name whose write has an unknown outcome until the fence ends, newer values included', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'old'), sealed('v', 'B', 'b')]))
      const claimed = await claim(ctx.store, T0)
      const a = claimed.find((c) => c.name === 'A')!
      expect(a.unconfirmed).toBe(false)
      await ctx.store.settle('w1', T0 + 10, [
        {
          id: a.id,
          kind: 'retry',
          at: T0 + 10,
          error: 'RWX request timed out',
          countAttempt: true,
          fenceUntil: T0 + 5_000,
        },
        { id: claimed.find((c) => c.name === 'B')!.id, kind: 'delivered', version: 1 },
      ])
      await ctx.store.enqueue(
        newEvent(T0 + 1_000, [sealed('v', 'A', 'new'), sealed('v', 'C', 'c')], { receivedAt: T0 + 20 }),
      )
      // C goes at once; neither value of A before the fence ends, though both are due
      expect((await claim(ctx.store, T0 + 100, 'w2')).map(opened)).toEqual(['c'])
      expect(await claim(ctx.store, T0 + 4_999, 'w2')).toEqual([])
      expect(await ctx.store.nextDueAt()).toBe(T0 + 5_000)
      const [next] = await claim(ctx.store, T0 + 5_000, 'w2')
      expect(next && opened(next)).toBe('new')
      expect(next?.unconfirmed).toBe(true)
    })

    it('keeps the name marked until a write is confirmed, then lifts the mark', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'one')]))
      const [first] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        {
          id: first!.id,
          kind: 'retry',
          at: T0,
          error: 'timed out',
          countAttempt: true,
          fenceUntil: T0 + 100,
        },
      ])
      // a delivery that was not confirmed (the read-back failed) leaves the mark
      const [second] = await claim(ctx.store, T0 + 100)
      expect(second?.unconfirmed).toBe(true)
      await ctx.store.settle('w1', T0 + 200, [{ id: second!.id, kind: 'delivered', version: 2 }])
      await ctx.store.enqueue(newEvent(T0 + 1_000, [sealed('v', 'A', 'two')], { receivedAt: T0 + 300 }))
      const [third] = await claim(ctx.store, T0 + 300)
      expect(third?.unconfirmed).toBe(true)
      await ctx.store.settle('w1', T0 + 400, [
        { id: third!.id, kind: 'delivered', version: 3, confirmed: true },
      ])
      await ctx.store.enqueue(newEvent(T0 + 2_000, [sealed('v', 'A', 'three')], { receivedAt: T0 + 500 }))
      const [fourth] = await claim(ctx.store, T0 + 500)
      expect(fourth && opened(fourth)).toBe('three')
      expect(fourth?.unconfirmed).toBe(false)
    })

    it('fences a name whose secret went dead with an unknown outcome', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'one')]))
      const [first] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        { id: first!.id, kind: 'dead', error: 'gave up', fenceUntil: T0 + 1_000 },
      ])
      await ctx.store.enqueue(newEvent(T0 + 1_000, [sealed('v', 'A', 'two')], { receivedAt: T0 + 10 }))
      expect(await claim(ctx.store, T0 + 999)).toEqual([])
      expect((await claim(ctx.store, T0 + 1_000)).map((c) => [opened(c), c.unconfirmed])).toEqual([
        ['two', true],
      ])
    })

    it('the longer of two fences wins', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'one')]))
      const [first] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        {
          id: first!.id,
          kind: 'retry',
          at: T0,
          error: 'timed out',
          countAttempt: true,
          fenceUntil: T0 + 3_000,
        },
      ])
      const [again] = await claim(ctx.store, T0 + 3_000)
      await ctx.store.settle('w1', T0 + 3_000, [
        {
          id: again!.id,
          kind: 'retry',
          at: T0 + 3_000,
          error: 'timed out',
          countAttempt: true,
          fenceUntil: T0 + 9_000,
        },
      ])
      expect(await claim(ctx.store, T0 + 8_999)).toEqual([])
      expect(await claim(ctx.store, T0 + 9_000)).toHaveLength(1)
    })
  })
}
