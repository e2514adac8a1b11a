// Store contract, reconciliation: the inventory's facts per name, reconcile marks, and the sweep lease.
import { describe, expect, it } from 'vitest'
import type { ReconcileMark } from '../../../src/queue/store.js'
import { type ContractContext, claim, newEvent, referenced, sealed, T0 } from './helpers.js'

const mark = (vault: string, name: string, extra: Partial<ReconcileMark> = {}): ReconcileMark => ({
  vault,
  name,
  source: 'aws',
  sourceVersion: null,
  checkedAt: null,
  outcome: null,
  error: null,
  rwxVersion: null,
  ...extra,
})

export function reconcileContract(ctx: ContractContext): void {
  describe('inventory', () => {
    it('lists every name it knows, sorted, with its newest secret, watermark and read-back; never a value', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'B', 'plain-value-b')], { eventId: 'e1' }))
      await ctx.store.enqueue(
        newEvent(T0, [referenced('v', 'A', { secretId: 'prod/a', versionId: 'ver-1' })], {
          source: 'aws',
          eventId: 'e2',
        }),
      )
      const claimed = await claim(ctx.store, T0 + 1)
      const a = claimed.find((c) => c.name === 'A')!
      await ctx.store.settle(
        'w1',
        T0 + 2,
        [{ id: a.id, kind: 'delivered', version: 3 }],
        [{ secretId: a.id, at: T0 + 3, outcome: 'read-back', status: '200', version: 3, error: null }],
      )
      await ctx.store.recordReconcile([mark('v', 'C', { sourceVersion: 'ver-9', outcome: 'missing' })])
      const facts = await ctx.store.inventory({ limit: 100 })
      expect(facts.map((f) => `${f.vault}/${f.name}`)).toEqual(['v/A', 'v/B', 'v/C'])
      const [fa, fb, fc] = facts
      expect(fa).toMatchObject({
        latest: {
          source: 'aws',
          eventId: 'e2',
          status: 'delivered',
          ref: { secretId: 'prod/a', versionId: 'ver-1' },
        },
        oldestQueuedAt: null,
        written: { version: 3, at: T0 + 2 },
        readBack: { at: T0 + 3, version: 3, outcome: 'read-back' },
        reconcile: null,
      })
      // B was claimed with A but its lease is still held: queued, waiting since it arrived
      expect(fb).toMatchObject({ latest: { status: 'queued', ref: null }, oldestQueuedAt: T0, written: null })
      expect(fc).toMatchObject({
        latest: null,
        written: null,
        reconcile: mark('v', 'C', { sourceVersion: 'ver-9', outcome: 'missing' }),
      })
      expect(JSON.stringify(facts)).not.toContain('plain-value-b')
    })

    it('filters by vault and name, pages by limit, and skips superseded values for the newest', async () => {
      await ctx.store.enqueue(newEvent(T0 + 10, [sealed('v', 'A', 'new')], { eventId: 'new' }))
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'old')], { eventId: 'old' }))
      await ctx.store.enqueue(newEvent(T0, [sealed('w', 'A', 'x')], { eventId: 'w' }))
      expect((await ctx.store.inventory({ vault: 'w', limit: 10 })).map((f) => f.vault)).toEqual(['w'])
      const [one] = await ctx.store.inventory({ vault: 'v', name: 'A', limit: 10 })
      expect(one?.latest?.eventId).toBe('new')
      expect(await ctx.store.inventory({ limit: 1 })).toHaveLength(1)
      expect(await ctx.store.inventory({ vault: 'nope', limit: 10 })).toEqual([])
    })

    it('replaces a name’s reconcile mark', async () => {
      await ctx.store.recordReconcile([mark('v', 'A', { sourceVersion: 'one', checkedAt: T0 })])
      await ctx.store.recordReconcile([
        mark('v', 'A', { sourceVersion: 'two', checkedAt: T0 + 5, outcome: 'drift', rwxVersion: 4 }),
      ])
      const [f] = await ctx.store.inventory({ limit: 10 })
      expect(f?.reconcile).toEqual(
        mark('v', 'A', { sourceVersion: 'two', checkedAt: T0 + 5, outcome: 'drift', rwxVersion: 4 }),
      )
    })
  })

  describe('sweep lease', () => {
    it('lets one owner sweep a source at a time, when due, and keeps the next due time', async () => {
      const first = await ctx.store.claimSweep('aws', 'r1', T0, 60_000)
      expect(first.claimed).toBe(true)
      // another replica while the lease lives: not taken, even forced
      expect((await ctx.store.claimSweep('aws', 'r2', T0 + 1, 60_000)).claimed).toBe(false)
      expect((await ctx.store.claimSweep('aws', 'r2', T0 + 1, 60_000, true)).claimed).toBe(false)
      // another source is its own
      expect((await ctx.store.claimSweep('gcp', 'r2', T0 + 1, 60_000)).claimed).toBe(true)
      await ctx.store.finishSweep('aws', 'r1', T0 + 10, 'ok', T0 + 600_000)
      // finished: not due yet for anyone, unless forced
      const early = await ctx.store.claimSweep('aws', 'r2', T0 + 20, 60_000)
      expect(early).toEqual({
        claimed: false,
        state: {
          source: 'aws',
          leaseOwner: null,
          leaseUntil: null,
          lastAt: T0 + 10,
          lastOkAt: T0 + 10,
          lastOutcome: 'ok',
          nextDueAt: T0 + 600_000,
        },
      })
      expect((await ctx.store.claimSweep('aws', 'r2', T0 + 600_000, 60_000)).claimed).toBe(true)
      await ctx.store.finishSweep('aws', 'r2', T0 + 600_001, 'failed', T0 + 1_200_000)
      const aws = (await ctx.store.sweeps()).find((s) => s.source === 'aws')
      expect(aws).toMatchObject({ lastOkAt: T0 + 10, lastOutcome: 'failed', lastAt: T0 + 600_001 })
    })

    it('takes over a lease that ran out (its replica died)', async () => {
      expect((await ctx.store.claimSweep('aws', 'r1', T0, 1_000)).claimed).toBe(true)
      expect((await ctx.store.claimSweep('aws', 'r2', T0 + 1_000, 1_000)).claimed).toBe(true)
      // the old owner cannot finish a sweep it no longer holds
      await ctx.store.finishSweep('aws', 'r1', T0 + 1_001, 'ok', T0 + 9_999_999)
      expect((await ctx.store.sweeps())[0]).toMatchObject({ leaseOwner: 'r2', lastAt: null })
    })
  })
}
