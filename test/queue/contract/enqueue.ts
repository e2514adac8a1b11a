// Store contract, arrival: durable dedup by source and event id, and the never-regress rules.
import { describe, expect, it } from 'vitest'
import {
  type ContractContext,
  claim,
  newEvent,
  opened,
  recordOf,
  referenced,
  sealed,
  statusesOf,
  T0,
} from './helpers.js'

export function enqueueContract(ctx: ContractContext): void {
  describe('enqueue', () => {
    it('queues secrets that are claimed with a sealed value that opens', async () => {
      const event = newEvent(T0 - 5000, [
        sealed('payments', 'API_KEY', 'sk_1', 'from evt'),
        sealed('payments', 'B', 'b1'),
      ])
      expect(await ctx.store.enqueue(event)).toEqual({ duplicate: false, queued: 2, superseded: 0 })
      const claimed = await claim(ctx.store, T0)
      expect(claimed.map(opened)).toEqual(['sk_1', 'b1'])
      expect(claimed[0]).toMatchObject({
        source: 'stripe',
        eventId: event.eventId,
        vault: 'payments',
        name: 'API_KEY',
        description: 'from evt',
        ref: null,
        attempts: 0,
        eventTime: T0 - 5000,
        createdAt: T0,
        solo: false,
      })
      expect(claimed[1]?.description).toBeNull()
    })

    it('queues a reference without a value and gives it back as it was', async () => {
      const ref = {
        secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:db',
        versionId: 'v2',
        jsonKey: 'password',
      }
      await ctx.store.enqueue(newEvent(T0, [referenced('ops', 'DB', ref)]))
      const [c] = await claim(ctx.store, T0)
      expect(c).toMatchObject({ vault: 'ops', name: 'DB', sealed: null, ref })
    })

    it('reports a repeated event id as a duplicate and queues nothing', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a1')], { eventId: 'evt_dup' })
      await ctx.store.enqueue(event)
      const again = newEvent(T0 + 1, [sealed('v', 'A', 'a2')], { eventId: 'evt_dup' })
      expect(await ctx.store.enqueue(again)).toEqual({ duplicate: true, queued: 0, superseded: 0 })
      expect((await ctx.store.counts()).queued).toBe(1)
      expect((await claim(ctx.store, T0)).map(opened)).toEqual(['a1'])
    })

    it('catches a duplicate sent twice at the same moment', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a1')])
      const results = await Promise.all([ctx.store.enqueue(event), ctx.store.enqueue({ ...event })])
      expect(results.map((r) => r.duplicate)).toEqual([false, true])
      expect((await ctx.store.counts()).queued).toBe(1)
    })

    it('treats the same event id from another source as a new event', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a1')], { source: 'one', eventId: 'e' }))
      const other = await ctx.store.enqueue(
        newEvent(T0, [sealed('v', 'B', 'b1')], { source: 'two', eventId: 'e' }),
      )
      expect(other).toEqual({ duplicate: false, queued: 1, superseded: 0 })
    })

    it('records an event without secrets so a resend is a duplicate', async () => {
      const event = newEvent(T0, [])
      expect(await ctx.store.enqueue(event)).toEqual({ duplicate: false, queued: 0, superseded: 0 })
      expect((await ctx.store.enqueue(event)).duplicate).toBe(true)
    })

    it('refuses a secret with neither a value nor a reference, recording nothing', async () => {
      const event = newEvent(T0, [{ vault: 'v', name: 'A', sealed: null, ref: null, fingerprint: null }])
      await expect(ctx.store.enqueue(event)).rejects.toThrow()
      expect(await ctx.store.getEvent(event.source, event.eventId)).toBeNull()
    })
  })

  describe('never regress', () => {
    it('supersedes on arrival an event older than the queued value', async () => {
      const newer = newEvent(T0 + 2000, [sealed('v', 'A', 'new')])
      const older = newEvent(T0 + 1000, [sealed('v', 'A', 'old')])
      await ctx.store.enqueue(newer)
      expect(await ctx.store.enqueue(older)).toEqual({ duplicate: false, queued: 0, superseded: 1 })
      expect((await claim(ctx.store, T0)).map(opened)).toEqual(['new'])
      expect(await recordOf(ctx.store, older)).toMatchObject({
        status: 'superseded',
        lastError: 'superseded by a newer value',
        nextAttemptAt: null,
      })
    })

    it('supersedes the older queued value when a newer one arrives, erasing it', async () => {
      const older = newEvent(T0 + 1000, [sealed('v', 'A', 'old')])
      const newer = newEvent(T0 + 2000, [sealed('v', 'A', 'new')])
      await ctx.store.enqueue(older)
      expect(await ctx.store.enqueue(newer)).toEqual({ duplicate: false, queued: 1, superseded: 0 })
      expect(await recordOf(ctx.store, older)).toMatchObject({
        status: 'superseded',
        lastError: 'superseded by a newer value',
      })
      expect(await recordOf(ctx.store, older)).not.toHaveProperty('sealed')
      const claimed = await claim(ctx.store, T0)
      expect(claimed.map(opened)).toEqual(['new'])
      // the old value can never come back
      expect(await ctx.store.retryEvent(older.source, older.eventId, T0)).toBe(0)
      expect(await claim(ctx.store, T0 + 1, 'w2')).toEqual([])
    })

    it('supersedes on arrival an event older than the value already delivered', async () => {
      await ctx.store.enqueue(newEvent(T0 + 2000, [sealed('v', 'A', 'new')]))
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0 + 10, [{ id: c!.id, kind: 'delivered', version: 3 }])
      const older = newEvent(T0 + 1000, [sealed('v', 'A', 'old')])
      expect(await ctx.store.enqueue(older)).toEqual({ duplicate: false, queued: 0, superseded: 1 })
      expect(await recordOf(ctx.store, older)).toMatchObject({
        status: 'superseded',
        lastError: 'older than the value already delivered',
      })
      expect(await claim(ctx.store, T0 + 20)).toEqual([])
    })

    it('queues an event as old as the delivered value: the later arrival is newer', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'first')]))
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [{ id: c!.id, kind: 'delivered', version: 1 }])
      expect(await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'second')]))).toMatchObject({ queued: 1 })
      expect((await claim(ctx.store, T0)).map(opened)).toEqual(['second'])
    })

    it('lets the later arrival win when event times are equal', async () => {
      const first = newEvent(T0, [sealed('v', 'A', 'first')])
      const second = newEvent(T0, [sealed('v', 'A', 'second')])
      await ctx.store.enqueue(first)
      expect(await ctx.store.enqueue(second)).toMatchObject({ queued: 1, superseded: 0 })
      expect(await statusesOf(ctx.store, first)).toEqual(['superseded'])
      expect((await claim(ctx.store, T0)).map(opened)).toEqual(['second'])
    })

    it('orders values per vault and name only', async () => {
      await ctx.store.enqueue(newEvent(T0 + 2000, [sealed('one', 'A', 'one-new')]))
      const result = await ctx.store.enqueue(
        newEvent(T0, [sealed('two', 'A', 'two-old'), sealed('one', 'B', 'b')]),
      )
      expect(result).toMatchObject({ queued: 2, superseded: 0 })
      expect((await claim(ctx.store, T0)).map(opened).sort()).toEqual(['b', 'one-new', 'two-old'])
    })
  })
}
