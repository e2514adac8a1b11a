// Store contract, renewals: a worker's heartbeat keeps its leases however long it sends, and never takes
// back a lease another worker holds.
import { describe, expect, it } from 'vitest'
import type { Claimed, Store } from '../../../src/queue/store.js'
import { type ContractContext, claim, LEASE_MS, newEvent, recordOf, sealed, T0 } from './helpers.js'

function renew(store: Store, owner: string, now: number, items: Claimed[], sending = false) {
  return store.renew({ owner, now, leaseMs: LEASE_MS, items, sending })
}

export function renewContract(ctx: ContractContext): void {
  describe('renew', () => {
    it('keeps a renewed lease from other owners until the renewal ends, then lets them take it', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')]))
      const claimed = await claim(ctx.store, T0, 'w1')
      const a = claimed.find((c) => c.name === 'A')!
      expect(await renew(ctx.store, 'w1', T0 + LEASE_MS - 100, [a])).toEqual(new Set([a.id]))
      // B was not renewed, and was not being sent: another owner takes it at once
      expect((await claim(ctx.store, T0 + LEASE_MS, 'w2')).map((c) => c.name)).toEqual(['B'])
      expect(await claim(ctx.store, T0 + 2 * LEASE_MS - 101, 'w2')).toEqual([])
      const [taken] = await claim(ctx.store, T0 + 2 * LEASE_MS - 100, 'w2')
      expect(taken).toMatchObject({ id: a.id, unconfirmed: false })
    })

    it('never takes back a lease another owner holds, nor one given back', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')])
      await ctx.store.enqueue(event)
      const claimed = await claim(ctx.store, T0, 'w1')
      const [a, b] = ['A', 'B'].map((n) => claimed.find((c) => c.name === n)!)
      await ctx.store.settle('w1', T0 + 10, [
        { id: b!.id, kind: 'retry', at: T0 + 10, error: 'x', countAttempt: false },
      ])
      const [second] = await claim(ctx.store, T0 + LEASE_MS, 'w2', 1)
      expect(second?.id).toBe(a!.id)
      expect(await renew(ctx.store, 'w1', T0 + LEASE_MS + 1, [a!, b!], true)).toEqual(new Set())
      // w2's lease is whole: no one else takes it, and its outcome counts
      expect((await claim(ctx.store, T0 + LEASE_MS + 2, 'w3')).map((c) => c.name)).toEqual(['B'])
      await ctx.store.settle('w2', T0 + LEASE_MS + 3, [{ id: a!.id, kind: 'delivered', version: 1 }])
      expect(await recordOf(ctx.store, event)).toMatchObject({ name: 'A', status: 'delivered' })
    })

    it('takes back its own lease that ran out while no one took it', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      const [a] = await claim(ctx.store, T0, 'w1')
      expect(await renew(ctx.store, 'w1', T0 + LEASE_MS + 5, [a!])).toEqual(new Set([a!.id]))
      expect(await claim(ctx.store, T0 + LEASE_MS + 10, 'w2')).toEqual([])
      expect(await renew(ctx.store, 'w1', T0 + LEASE_MS + 10, [])).toEqual(new Set())
    })

    it('marks a name as being sent without changing what its owner may record', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [a] = await claim(ctx.store, T0, 'w1')
      expect(await renew(ctx.store, 'w1', T0 + 5, [a!], true)).toEqual(new Set([a!.id]))
      expect(await claim(ctx.store, T0 + 10, 'w2')).toEqual([])
      await ctx.store.settle('w1', T0 + 20, [{ id: a!.id, kind: 'delivered', version: 4 }])
      expect(await recordOf(ctx.store, event)).toMatchObject({ status: 'delivered', rwxVersion: 4 })
    })
  })
}
