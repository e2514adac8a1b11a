// Store contract, operations: the pause switch, provenance recorded with an event, attempts per secret,
// outside changes, and all of it going with its event on purge.
import { describe, expect, it } from 'vitest'
import type { NewEvent } from '../../../src/queue/store.js'
import { type ContractContext, claim, LEASE_MS, newEvent, recordsOf, sealed, T0 } from './helpers.js'

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

    it('keeps attempts per secret in order, a delivery from its row, and counts outside changes', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')])
      await ctx.store.enqueue(event)
      const [a, b] = await recordsOf(ctx.store, event)
      const first = await claim(ctx.store, T0)
      expect(first).toHaveLength(2)
      await ctx.store.settle(
        'w1',
        T0 + 2,
        [
          { id: a!.id, kind: 'retry', at: T0 + 3, error: 'down', countAttempt: true },
          { id: b!.id, kind: 'delivered', version: 7 },
        ],
        [
          { secretId: a!.id, at: T0 + 1, outcome: 'retry', status: '503', version: null, error: 'down' },
          {
            secretId: b!.id,
            at: T0 + 2,
            outcome: 'outside-change',
            status: '404',
            version: null,
            error: null,
          },
        ],
      )
      const second = await claim(ctx.store, T0 + 3)
      expect(second.map((c) => c.id)).toEqual([a!.id])
      await ctx.store.settle(
        'w1',
        T0 + 4,
        [{ id: a!.id, kind: 'delivered', version: 4 }],
        [{ secretId: a!.id, at: T0 + 4, outcome: 'read-back', status: '200', version: 4, error: null }],
      )
      const p = await ctx.store.getProvenance(event.source, event.eventId)
      expect(p?.attempts[a!.id]?.map((x) => [x.outcome, x.at, x.status, x.version, x.error])).toEqual([
        ['retry', T0 + 1, '503', null, 'down'],
        ['delivered', T0 + 4, '200', 4, null],
        ['read-back', T0 + 4, '200', 4, null],
      ])
      expect(p?.attempts[b!.id]?.map((x) => [x.outcome, x.at])).toEqual([
        ['delivered', T0 + 2],
        ['outside-change', T0 + 2],
      ])
      expect(await ctx.store.outsideChanges(10)).toEqual({
        total: 1,
        latest: [
          {
            source: event.source,
            eventId: event.eventId,
            secretId: b!.id,
            vault: 'v',
            name: 'B',
            at: T0 + 2,
            written: 7,
            readBack: null,
          },
        ],
      })
    })

    it('keeps the attempt of a secret whose lease was lost meanwhile, ignoring only its outcome', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [a] = await recordsOf(ctx.store, event)
      await claim(ctx.store, T0, 'w1')
      // w1's lease runs out and w2 takes the secret
      expect((await claim(ctx.store, T0 + LEASE_MS, 'w2')).map((c) => c.id)).toEqual([a!.id])
      await ctx.store.settle(
        'w1',
        T0 + LEASE_MS,
        [{ id: a!.id, kind: 'retry', at: T0 + LEASE_MS + 5, error: 'down', countAttempt: true }],
        [{ secretId: a!.id, at: T0 + 1, outcome: 'retry', status: '503', version: null, error: 'down' }],
      )
      const p = await ctx.store.getProvenance(event.source, event.eventId)
      expect(p?.attempts[a!.id]?.map((x) => [x.outcome, x.status])).toEqual([['retry', '503']])
      // the outcome was w1's to give no more: w2 still holds the secret, untouched
      const [record] = await recordsOf(ctx.store, event)
      expect(record).toMatchObject({ status: 'queued', attempts: 0, lastError: null })
    })

    it('shows a delivery recorded as an attempt row (by an older relay) once', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [a] = await recordsOf(ctx.store, event)
      await claim(ctx.store, T0)
      await ctx.store.settle(
        'w1',
        T0 + 2,
        [{ id: a!.id, kind: 'delivered', version: 3 }],
        [{ secretId: a!.id, at: T0 + 1, outcome: 'delivered', status: '200', version: 3, error: null }],
      )
      const p = await ctx.store.getProvenance(event.source, event.eventId)
      expect(p?.attempts[a!.id]?.map((x) => [x.outcome, x.at])).toEqual([['delivered', T0 + 1]])
    })

    it('goes with its event on purge', async () => {
      const old = withProvenance(newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 }), null, ['r'])
      await ctx.store.enqueue(old)
      const [a] = await recordsOf(ctx.store, old)
      const claimed = await claim(ctx.store, T0)
      await ctx.store.settle(
        'w1',
        T0,
        [{ id: claimed[0]!.id, kind: 'delivered', version: 2 }],
        [{ secretId: a!.id, at: T0, outcome: 'outside-change', status: '200', version: 1, error: null }],
      )
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
