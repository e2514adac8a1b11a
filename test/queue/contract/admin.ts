// Store contract, administration: counts, listing and showing events (never a value), retry, discard,
// and many enqueues at once.
import { describe, expect, it } from 'vitest'
import { SECRET_STATUSES } from '../../../src/queue/store.js'
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

export function adminContract(ctx: ContractContext): void {
  describe('counts and events', () => {
    it('counts every status, zero when none', async () => {
      expect(await ctx.store.counts()).toEqual(Object.fromEntries(SECRET_STATUSES.map((s) => [s, 0])))
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'a1'), sealed('v', 'B', 'b')]))
      await ctx.store.enqueue(newEvent(T0 + 1, [sealed('v', 'A', 'a2')]))
      expect(await ctx.store.counts()).toEqual({
        queued: 2,
        delivered: 0,
        dead: 0,
        superseded: 1,
        discarded: 0,
      })
    })

    it('shows an event with its secrets but never a value', async () => {
      const ref = { secretId: 'db' }
      const event = newEvent(
        T0 - 100,
        [sealed('v', 'A', 'plain-value', 'rotated'), referenced('v', 'B', ref)],
        {
          receivedAt: T0 + 7,
        },
      )
      await ctx.store.enqueue(event)
      const shown = await ctx.store.getEvent(event.source, event.eventId)
      expect(shown).toMatchObject({
        source: 'stripe',
        eventId: event.eventId,
        eventTime: T0 - 100,
        receivedAt: T0 + 7,
        counts: { queued: 2 },
      })
      expect(shown?.secrets).toEqual([
        expect.objectContaining({
          vault: 'v',
          name: 'A',
          description: 'rotated',
          ref: null,
          status: 'queued',
        }),
        expect.objectContaining({ vault: 'v', name: 'B', description: null, ref, fingerprint: null }),
      ])
      expect(shown?.secrets?.[0]).toMatchObject({
        attempts: 0,
        nextAttemptAt: T0 + 7,
        lastError: null,
        rwxVersion: null,
        fingerprint: sealed('v', 'A', 'plain-value').fingerprint,
        eventTime: T0 - 100,
        createdAt: T0 + 7,
        updatedAt: T0 + 7,
        deliveredAt: null,
      })
      const text = JSON.stringify(shown)
      expect(text).not.toContain('plain-value')
      expect(text).not.toContain(event.secrets[0]!.sealed!.toString('base64').slice(0, 24))
      expect(shown?.secrets?.[0]).not.toHaveProperty('sealed')
      expect(await ctx.store.getEvent(event.source, 'evt_unknown')).toBeNull()
    })

    it('lists events newest first, by source and status, a page at a time', async () => {
      const events = [0, 1, 2, 3, 4].map((i) =>
        newEvent(T0, [sealed('v', `N${i}`, 'x')], {
          source: i % 2 === 0 ? 'even' : 'odd',
          receivedAt: T0 + i,
        }),
      )
      for (const e of events) await ctx.store.enqueue(e)
      const [, c] = await claim(ctx.store, T0 + 10)
      await ctx.store.settle('w1', T0 + 10, [{ id: c!.id, kind: 'dead', error: 'refused' }])
      const ids = (list: { eventId: string }[]) => list.map((e) => e.eventId)
      const ev = (i: number) => events[i]!.eventId
      const page1 = await ctx.store.listEvents({ limit: 2 })
      expect(ids(page1)).toEqual([ev(4), ev(3)])
      expect(ids(await ctx.store.listEvents({ limit: 2, before: page1[1]!.receivedAt }))).toEqual([
        ev(2),
        ev(1),
      ])
      expect(ids(await ctx.store.listEvents({ limit: 10, source: 'even' }))).toEqual([ev(4), ev(2), ev(0)])
      const dead = await ctx.store.listEvents({ limit: 10, status: 'dead' })
      expect(dead).toEqual([
        { source: 'odd', eventId: ev(1), eventTime: T0, receivedAt: T0 + 1, counts: { dead: 1 } },
      ])
      expect(await ctx.store.listEvents({ limit: 10, status: 'dead', source: 'even' })).toEqual([])
      expect(page1[0]).not.toHaveProperty('secrets')
    })
  })

  describe('retry and discard', () => {
    it('makes an event’s queued secrets due now with fresh attempts', async () => {
      const event = newEvent(T0, [sealed('v', 'A', 'a')])
      await ctx.store.enqueue(event)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [
        { id: c!.id, kind: 'retry', at: T0 + 60_000, error: 'e', countAttempt: true },
      ])
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 100)).toBe(1)
      expect(await claim(ctx.store, T0 + 100)).toMatchObject([{ id: c!.id, attempts: 0 }])
    })

    it('re-queues dead references but not dead values, which are erased', async () => {
      const event = newEvent(T0, [referenced('v', 'REF', { secretId: 'db' }), sealed('v', 'VAL', 'x')])
      await ctx.store.enqueue(event)
      const claimed = await claim(ctx.store, T0)
      await ctx.store.settle(
        'w1',
        T0,
        claimed.map((c) => ({ id: c.id, kind: 'dead' as const, error: 'gave up' })),
      )
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 5)).toBe(1)
      expect(await statusesOf(ctx.store, event)).toEqual(['queued', 'dead'])
      expect(await claim(ctx.store, T0 + 5)).toMatchObject([
        { name: 'REF', attempts: 0, ref: { secretId: 'db' } },
      ])
    })

    it('re-queues a dead value kept past its death, with its value, until its time runs out', async () => {
      const event = newEvent(T0, [sealed('v', 'KEPT', 'kept-value'), sealed('v', 'GONE', 'gone-value')])
      await ctx.store.enqueue(event)
      const claimed = await claim(ctx.store, T0)
      const kept = claimed.find((c) => c.name === 'KEPT')!
      const gone = claimed.find((c) => c.name === 'GONE')!
      await ctx.store.settle('w1', T0, [
        { id: kept.id, kind: 'dead', error: 'gave up', keepValueUntil: T0 + 1_000 },
        { id: gone.id, kind: 'dead', error: 'gave up' },
      ])
      expect(await statusesOf(ctx.store, event)).toEqual(['dead', 'dead'])
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 5)).toBe(1)
      const [again] = await claim(ctx.store, T0 + 5)
      expect(again).toMatchObject({ name: 'KEPT', attempts: 0 })
      expect(opened(again!)).toBe('kept-value')
      // dead again, kept again; past its time it is erased and no retry brings it back
      await ctx.store.settle('w1', T0 + 6, [
        { id: again!.id, kind: 'dead', error: 'gave up', keepValueUntil: T0 + 1_000 },
      ])
      expect(await ctx.store.eraseDeadValues(T0 + 999)).toBe(0)
      expect(await ctx.store.eraseDeadValues(T0 + 1_000)).toBe(1)
      expect(await ctx.store.retryEvent(event.source, event.eventId, T0 + 1_001)).toBe(0)
    })

    it('never re-queues a reference older than the value delivered since', async () => {
      const old = newEvent(T0, [referenced('v', 'A', { secretId: 'db' })])
      await ctx.store.enqueue(old)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [{ id: c!.id, kind: 'dead', error: 'AWS said no' }])
      await ctx.store.enqueue(newEvent(T0 + 1000, [sealed('v', 'A', 'new')]))
      const [n] = await claim(ctx.store, T0 + 1)
      await ctx.store.settle('w1', T0 + 2, [{ id: n!.id, kind: 'delivered', version: 2 }])
      expect(await ctx.store.retryEvent(old.source, old.eventId, T0 + 3)).toBe(0)
      expect(await recordOf(ctx.store, old)).toMatchObject({ status: 'superseded' })
    })

    it('re-queues a dead reference that is still the newest and supersedes nothing newer', async () => {
      const ref = newEvent(T0 + 1000, [referenced('v', 'A', { secretId: 'db' })])
      await ctx.store.enqueue(ref)
      const [c] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0, [{ id: c!.id, kind: 'dead', error: 'AWS said no' }])
      const older = newEvent(T0, [sealed('v', 'A', 'older')])
      expect(await ctx.store.enqueue(older)).toMatchObject({ queued: 1 })
      expect(await ctx.store.retryEvent(ref.source, ref.eventId, T0 + 1)).toBe(1)
      expect(await statusesOf(ctx.store, older)).toEqual(['superseded'])
      expect(await claim(ctx.store, T0 + 1)).toMatchObject([{ id: c!.id, ref: { secretId: 'db' } }])
    })

    it('retries and discards nothing for an unknown event', async () => {
      expect(await ctx.store.retryEvent('stripe', 'evt_unknown', T0)).toBe(0)
      expect(await ctx.store.discardEvent('stripe', 'evt_unknown', T0)).toBe(0)
    })
  })

  describe('names: the never-regress state and its reset', () => {
    const DAY = 86_400_000

    it('knows nothing of a name never queued, and resets nothing', async () => {
      expect(await ctx.store.getName('v', 'A', T0)).toBeNull()
      expect(await ctx.store.resetName('v', 'A', T0, { liftFence: true })).toBeNull()
    })

    it('after a reset, a value older than the one delivered is accepted and delivered', async () => {
      // an event dated a day ahead was delivered: every later rotation of A is older than it
      const future = newEvent(T0 + DAY, [sealed('v', 'A', 'from-the-future')], { source: 'vendor' })
      await ctx.store.enqueue(future)
      const [f] = await claim(ctx.store, T0)
      await ctx.store.settle('w1', T0 + 5, [{ id: f!.id, kind: 'delivered', version: 7 }])
      const stuck = newEvent(T0 + 10, [sealed('v', 'A', 'stuck')], { receivedAt: T0 + 10 })
      expect(await ctx.store.enqueue(stuck)).toMatchObject({ queued: 0, superseded: 1 })
      const mark = {
        eventTime: T0 + DAY,
        secretId: f!.id,
        source: 'vendor',
        eventId: future.eventId,
        rwxVersion: 7,
        updatedAt: T0 + 5,
      }
      expect(await ctx.store.getName('v', 'A', T0 + 20)).toEqual({
        vault: 'v',
        name: 'A',
        delivered: mark,
        queued: 0,
        inFlight: false,
        fencedUntil: null,
        unconfirmed: false,
        unconfirmedSince: null,
      })

      const reset = await ctx.store.resetName('v', 'A', T0 + 30, { liftFence: false })
      expect(reset).toMatchObject({ previous: mark, fenceLifted: false, state: { delivered: null } })
      // the value superseded on arrival is not revived (it was erased): the provider's resend brings it
      expect(await statusesOf(ctx.store, stuck)).toEqual(['superseded'])
      expect(await claim(ctx.store, T0 + 30)).toEqual([])

      const resent = newEvent(T0 + 10, [sealed('v', 'A', 'resent')], { receivedAt: T0 + 40 })
      expect(await ctx.store.enqueue(resent)).toMatchObject({ queued: 1, superseded: 0 })
      const [r] = await claim(ctx.store, T0 + 40)
      expect(r && opened(r)).toBe('resent')
      await ctx.store.settle('w1', T0 + 50, [{ id: r!.id, kind: 'delivered', version: 8 }])
      expect((await ctx.store.getName('v', 'A', T0 + 60))?.delivered).toMatchObject({
        eventTime: T0 + 10,
        secretId: r!.id,
        eventId: resent.eventId,
        rwxVersion: 8,
      })
      // and the watermark guards again from the new mark
      expect(await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'older')]))).toMatchObject({
        superseded: 1,
      })
    })

    it('shows a value in flight and a fence set by settle, and lifts the fence only when asked', async () => {
      await ctx.store.enqueue(newEvent(T0, [sealed('v', 'A', 'one')]))
      const [c] = await claim(ctx.store, T0)
      expect(await ctx.store.getName('v', 'A', T0 + 1)).toMatchObject({
        queued: 1,
        inFlight: true,
        fencedUntil: null,
        unconfirmed: false,
      })
      // a worker's lease is not a fence: lifting leaves it alone
      expect(await ctx.store.resetName('v', 'A', T0 + 1, { liftFence: true })).toMatchObject({
        previous: null,
        fenceLifted: false,
        state: { inFlight: true },
      })
      await ctx.store.settle('w1', T0 + 10, [
        {
          id: c!.id,
          kind: 'retry',
          at: T0 + 10,
          error: 'timed out',
          countAttempt: true,
          fenceUntil: T0 + 5_000,
        },
      ])
      expect(await ctx.store.getName('v', 'A', T0 + 20)).toMatchObject({
        delivered: null,
        queued: 1,
        inFlight: false,
        fencedUntil: T0 + 5_000,
        unconfirmed: true,
        unconfirmedSince: T0 + 10,
      })
      expect(await ctx.store.getName('v', 'A', T0 + 5_000)).toMatchObject({
        fencedUntil: null,
        unconfirmed: true,
      })
      expect(await ctx.store.resetName('v', 'A', T0 + 20, { liftFence: false })).toMatchObject({
        fenceLifted: false,
        state: { fencedUntil: T0 + 5_000 },
      })
      expect(await claim(ctx.store, T0 + 30)).toEqual([])

      const lifted = await ctx.store.resetName('v', 'A', T0 + 30, { liftFence: true })
      expect(lifted).toMatchObject({ fenceLifted: true, state: { fencedUntil: null, unconfirmed: true } })
      // claimable at once, and still read back after writing
      const [next] = await claim(ctx.store, T0 + 30)
      expect(next && [opened(next), next.unconfirmed]).toEqual(['one', true])
    })
  })

  describe('many at once', () => {
    it('commits 200 concurrent enqueues, each with its own result', async () => {
      // 20 names, 10 events each, arriving in a scrambled event-time order
      const events = Array.from({ length: 200 }, (_, i) => {
        const name = `N${i % 20}`
        const time = T0 + ((i * 7919) % 200)
        return newEvent(time, [sealed('v', name, `${name}@${time}`)], { receivedAt: T0 + i })
      })
      const results = await Promise.all(events.map((e) => ctx.store.enqueue(e)))
      for (const r of results) expect(r.duplicate === false && r.queued + r.superseded === 1).toBe(true)
      expect(await ctx.store.counts()).toMatchObject({ queued: 20, superseded: 180 })
      const newest = new Map<string, number>()
      for (const e of events)
        newest.set(e.secrets[0]!.name, Math.max(newest.get(e.secrets[0]!.name) ?? 0, e.eventTime))
      const claimed = await claim(ctx.store, T0 + 1000)
      expect(claimed.map(opened).sort()).toEqual([...newest].map(([name, time]) => `${name}@${time}`).sort())
      expect(await ctx.store.listEvents({ limit: 500 })).toHaveLength(200)
    })

    it('answers ping', async () => {
      await expect(ctx.store.ping()).resolves.toBeUndefined()
    })
  })
}
