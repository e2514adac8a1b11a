// Store contract, the console's data: operators' actions kept newest first, and the oldest queued secret.
import { describe, expect, it } from 'vitest'
import { type ContractContext, newEvent, sealed, T0 } from './helpers.js'

export function auditContract(ctx: ContractContext): void {
  describe('audit list', () => {
    it('starts empty', async () => {
      expect(await ctx.store.listAudit(10)).toEqual([])
    })

    it('returns recorded actions newest first, each as recorded, up to the limit', async () => {
      await ctx.store.recordAudit({
        at: T0,
        actor: 'admin:aaaa',
        action: 'pause',
        target: null,
        detail: 'RWX maintenance',
      })
      await ctx.store.recordAudit({
        at: T0 + 1,
        actor: 'admin:bbbb',
        action: 'retry',
        target: 'ci/evt_1',
        detail: '2 queued',
      })
      await ctx.store.recordAudit({
        at: T0 + 2,
        actor: 'admin:aaaa',
        action: 'resume',
        target: null,
        detail: null,
      })
      const all = await ctx.store.listAudit(10)
      expect(all.map((e) => e.action)).toEqual(['resume', 'retry', 'pause'])
      expect(all[1]).toEqual({
        id: expect.any(Number),
        at: T0 + 1,
        actor: 'admin:bbbb',
        action: 'retry',
        target: 'ci/evt_1',
        detail: '2 queued',
      })
      expect(all[2]).toMatchObject({ target: null, detail: 'RWX maintenance' })
      expect((await ctx.store.listAudit(2)).map((e) => e.action)).toEqual(['resume', 'retry'])
      expect(await ctx.store.listAudit(0)).toEqual([])
    })

    it('keeps two actions of the same millisecond apart and in order', async () => {
      for (const action of ['discard', 'retry'])
        await ctx.store.recordAudit({ at: T0, actor: 'admin:x', action, target: 'ci/e', detail: null })
      expect((await ctx.store.listAudit(5)).map((e) => e.action)).toEqual(['retry', 'discard'])
    })
  })
}

/** The oldest queued secret, for the console's "oldest pending" age. */
export function oldestQueuedContract(ctx: ContractContext): void {
  describe('oldest queued', () => {
    it('is null with nothing queued, then the accept time of the oldest secret still queued', async () => {
      expect(await ctx.store.oldestQueuedAt()).toBeNull()
      const first = newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 })
      const second = newEvent(T0 + 10, [sealed('v', 'B', 'b')], { receivedAt: T0 + 10 })
      await ctx.store.enqueue(first)
      await ctx.store.enqueue(second)
      expect(await ctx.store.oldestQueuedAt()).toBe(T0)
      await ctx.store.discardEvent(first.source, first.eventId, T0 + 20)
      expect(await ctx.store.oldestQueuedAt()).toBe(T0 + 10)
      await ctx.store.discardEvent(second.source, second.eventId, T0 + 20)
      expect(await ctx.store.oldestQueuedAt()).toBeNull()
    })
  })
}
