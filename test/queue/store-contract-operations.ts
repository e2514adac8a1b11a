// Store contract, operations: the pause switch, provenance recorded with an event, attempts per secret,
// outside changes, and all of it going with its event on purge.
import { describe, expect, it } from 'vitest'
import type { NewEvent } from '../../src/queue/store.js'
import { type ContractContext, claim, newEvent, recordsOf, sealed, T0 } from './store-contract-helpers.js'

const DAY = 86_400_000

function withProvenance(event: NewEvent, keyId: string | null, rules: string[]): NewEvent {
  return { ...event, provenance: { verifier: 'stripe', keyId, rules } }
}

export function operationsContract(ctx: ContractContext): void {
  describe('pause switch', () => {
    it('starts unpaused, and keeps what the operator set until resumed', async () => {
      expect(await ctx.store.getControl()).toEqual({ paused: false, changedAt: null, reason: null })
      const paused = await ctx.store.setPaused(true, T0, 'RWX maintenance')
      expect(paused).toEqual({ paused: true, changedAt: T0, reason: 'RWX maintenance' })
      expect(await ctx.store.getControl()).toEqual(paused)
      const resumed = await ctx.store.setPaused(false, T0 + 5, 'ignored when resuming')
      expect(resumed).toEqual({ paused: false, changedAt: T0 + 5, reason: null })
      expect(await ctx.store.getControl()).toEqual(resumed)
    })
  })

  describe('provenance', () => {
    it('records how an event was verified and which rule made each secret, once', async () => {
      const event = withProvenance(
        newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')]),
        'secrets[1]',
        ['rules[0].secrets[0]', 'rules[1].secrets[0]'],
      )
      await ctx.store.enqueue(event)
      // a resend (duplicate) with other provenance changes nothing
      await ctx.store.enqueue(withProvenance({ ...event }, 'secrets[0]', ['x', 'y']))
      const [a, b] = await recordsOf(ctx.store, event)
      const p = await ctx.store.getProvenance(event.source, event.eventId)
      expect(p).toEqual({
        verifier: 'stripe',
        keyId: 'secrets[1]',
        rules: { [a!.id]: 'rules[0].secrets[0]', [b!.id]: 'rules[1].secrets[0]' },
        attempts: {},
      })
    })

    it('is null for an unknown event, and empty for an event queued without it', async () => {
      expect(await ctx.store.getProvenance('stripe', 'nope')).toBeNull()
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      expect(await ctx.store.getProvenance(event.source, event.eventId)).toEqual({
        verifier: null,
        keyId: null,
        rules: {},
        attempts: {},
      })
    })

    it('keeps attempts per secret in order, and counts outside changes', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')])
      await ctx.store.enqueue(event)
      const [a, b] = await recordsOf(ctx.store, event)
      await ctx.store.recordAttempts([
        { secretId: a!.id, at: T0 + 1, outcome: 'retry', status: '503', version: null, error: 'down' },
        { secretId: a!.id, at: T0 + 2, outcome: 'delivered', status: '200', version: 4, error: null },
        { secretId: b!.id, at: T0 + 2, outcome: 'delivered', status: '200', version: 7, error: null },
      ])
      await ctx.store.settle('nobody', T0 + 2, [])
      const claimed = await claim(ctx.store, T0 + 2)
      await ctx.store.settle(
        'w1',
        T0 + 2,
        claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: c.name === 'A' ? 4 : 7 })),
      )
      await ctx.store.recordAttempts([
        { secretId: a!.id, at: T0 + 3, outcome: 'read-back', status: '200', version: 4, error: null },
        { secretId: b!.id, at: T0 + 3, outcome: 'outside-change', status: '404', version: null, error: null },
      ])
      const p = await ctx.store.getProvenance(event.source, event.eventId)
      expect(p?.attempts[a!.id]?.map((x) => [x.outcome, x.status, x.version])).toEqual([
        ['retry', '503', null],
        ['delivered', '200', 4],
        ['read-back', '200', 4],
      ])
      expect(p?.attempts[b!.id]?.map((x) => x.outcome)).toEqual(['delivered', 'outside-change'])
      expect(await ctx.store.outsideChanges(10)).toEqual({
        total: 1,
        latest: [
          {
            source: event.source,
            eventId: event.eventId,
            secretId: b!.id,
            vault: 'v',
            name: 'B',
            at: T0 + 3,
            written: 7,
            readBack: null,
          },
        ],
      })
    })

    it('goes with its event on purge', async () => {
      const old = withProvenance(newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 }), null, ['r'])
      await ctx.store.enqueue(old)
      const [a] = await recordsOf(ctx.store, old)
      const claimed = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [{ id: claimed[0]!.id, kind: 'delivered', version: 2 }])
      await ctx.store.recordAttempts([
        { secretId: a!.id, at: T0, outcome: 'outside-change', status: '200', version: 1, error: null },
      ])
      // a recent event last: SQLite keeps the event of the newest secret whatever its age
      await ctx.store.enqueue(newEvent(T0 + 20 * DAY, [sealed('v', 'Z', 'z')], { receivedAt: T0 + 20 * DAY }))
      expect(await ctx.store.purge(T0 + 10 * DAY, 100)).toBe(1)
      expect(await ctx.store.getProvenance(old.source, old.eventId)).toBeNull()
      expect((await ctx.store.outsideChanges(10)).total).toBe(0)
      // the same id accepted again as new records its own provenance
      await ctx.store.enqueue(withProvenance({ ...old, receivedAt: T0 + 21 * DAY }, 'secrets[0]', ['r2']))
      expect((await ctx.store.getProvenance(old.source, old.eventId))?.keyId).toBe('secrets[0]')
    })
  })
}
