// Store contract, the notification outbox: queued once per id, leased per try, kept until sent or given up.
import { describe, expect, it } from 'vitest'
import type { NewNotification } from '../../../src/queue/store.js'
import { type ContractContext, T0 } from './helpers.js'

const LEASE = 10_000

function note(id: string, createdAt = T0): NewNotification {
  return { id, kind: 'dead', body: JSON.stringify({ type: 'secret.dead', id }), createdAt }
}

export function notificationsContract(ctx: ContractContext): void {
  describe('notification outbox', () => {
    it('keeps a queued notification until it is due, then leases it with its try counted', async () => {
      expect(await ctx.store.nextNotificationAt()).toBeNull()
      await ctx.store.addNotification(note('msg_a', T0 + 5))
      expect(await ctx.store.nextNotificationAt()).toBe(T0 + 5)
      expect(await ctx.store.claimNotifications('w1', T0, LEASE, 10)).toEqual([])
      const [got] = await ctx.store.claimNotifications('w1', T0 + 5, LEASE, 10)
      expect(got).toEqual({ ...note('msg_a', T0 + 5), attempts: 1 })
      // leased: nobody else gets it until the lease ends; then it is due again (at least once)
      expect(await ctx.store.nextNotificationAt()).toBe(T0 + 5 + LEASE)
      expect(await ctx.store.claimNotifications('w2', T0 + 6, LEASE, 10)).toEqual([])
      const again = await ctx.store.claimNotifications('w2', T0 + 5 + LEASE, LEASE, 10)
      expect(again.map((n) => [n.id, n.attempts])).toEqual([['msg_a', 2]])
    })

    it('queues an id once: a second add of the same id changes nothing', async () => {
      await ctx.store.addNotification(note('msg_a'))
      await ctx.store.addNotification({ ...note('msg_a'), body: '{"other":true}' })
      const got = await ctx.store.claimNotifications('w1', T0, LEASE, 10)
      expect(got.map((n) => n.body)).toEqual([note('msg_a').body])
    })

    it('removes a notification once sent or given up, and schedules a retry', async () => {
      for (const id of ['msg_sent', 'msg_failed', 'msg_retry']) await ctx.store.addNotification(note(id))
      const leased = await ctx.store.claimNotifications('w1', T0, LEASE, 10)
      expect(leased.map((n) => n.id).sort()).toEqual(['msg_failed', 'msg_retry', 'msg_sent'])
      await ctx.store.finishNotification('msg_sent', 'w1', { kind: 'sent' })
      await ctx.store.finishNotification('msg_failed', 'w1', { kind: 'failed', error: 'gave up' })
      await ctx.store.finishNotification('msg_retry', 'w1', { kind: 'retry', at: T0 + 500, error: '500' })
      expect(await ctx.store.nextNotificationAt()).toBe(T0 + 500)
      expect(await ctx.store.claimNotifications('w1', T0 + 499, LEASE, 10)).toEqual([])
      const retried = await ctx.store.claimNotifications('w1', T0 + 500, LEASE, 10)
      expect(retried.map((n) => [n.id, n.attempts])).toEqual([['msg_retry', 2]])
      await ctx.store.finishNotification('msg_retry', 'w1', { kind: 'sent' })
      expect(await ctx.store.nextNotificationAt()).toBeNull()
    })

    it('ignores a result from an owner whose lease was taken over', async () => {
      await ctx.store.addNotification(note('msg_a'))
      await ctx.store.claimNotifications('w1', T0, LEASE, 10)
      await ctx.store.claimNotifications('w2', T0 + LEASE, LEASE, 10)
      await ctx.store.finishNotification('msg_a', 'w1', { kind: 'sent' })
      // still w2's: its lease runs out, and the notification is due again
      expect(await ctx.store.nextNotificationAt()).toBe(T0 + 2 * LEASE)
      await ctx.store.finishNotification('msg_a', 'w2', { kind: 'sent' })
      expect(await ctx.store.nextNotificationAt()).toBeNull()
    })

    it('leases at most `limit`, oldest first', async () => {
      for (let i = 0; i < 5; i++) await ctx.store.addNotification(note(`msg_${i}`, T0 + i))
      const first = await ctx.store.claimNotifications('w1', T0 + 10, LEASE, 2)
      expect(first.map((n) => n.id)).toEqual(['msg_0', 'msg_1'])
      const rest = await ctx.store.claimNotifications('w2', T0 + 10, LEASE, 10)
      expect(rest.map((n) => n.id)).toEqual(['msg_2', 'msg_3', 'msg_4'])
    })
  })
}
