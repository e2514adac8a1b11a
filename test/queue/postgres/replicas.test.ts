// Several stores on one PostgreSQL database: dedup across replicas, no deadlock, and one lease per
// name at a time.
import { describe, expect, inject, it } from 'vitest'
import type { Outcome } from '../../../src/queue/store.js'
import { adminQuery } from '../../support/postgres.js'
import { until } from '../../support/until.js'
import { LEASE_MS, newEvent, opened, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

const adminUrl = inject('pgAdminUrl')

describe('postgres store', () => {
  const { open, freshDb } = storesOnFreshDatabases()

  describe('several stores on one database', () => {
    it('records an event sent to three replicas at once exactly once', async () => {
      const db = await freshDb()
      const three = await Promise.all([open(db.url), open(db.url), open(db.url)])
      const events = Array.from({ length: 20 }, (_, i) =>
        newEvent(T0 + i, [sealed('v', `N${i % 5}`, `x${i}`)]),
      )
      const results = await Promise.all(events.flatMap((e) => three.map((s) => s.enqueue({ ...e }))))
      const accepted = results.filter((r) => !r.duplicate)
      expect(accepted).toHaveLength(20)
      expect(results.filter((r) => r.duplicate)).toHaveLength(40)
      expect(await three[0]!.counts()).toMatchObject({ queued: 5, superseded: 15 })
      expect((await three[1]!.listEvents({ limit: 100 })).length).toBe(20)
    })

    it('queues events naming the same names in any order from several stores without a deadlock', async () => {
      const db = await freshDb()
      const three = await Promise.all([open(db.url), open(db.url), open(db.url)])
      const names = ['A', 'B', 'C', 'D', 'E', 'F']
      // each event names four of the six, in its own order
      const events = Array.from({ length: 90 }, (_, i) => {
        const picked = names.map((n, k) => ({ n, key: (i * 31 + k * 17) % 11 })).sort((a, b) => a.key - b.key)
        return newEvent(
          T0 + i,
          picked.slice(0, 4).map(({ n }) => sealed('v', n, `${n}@${i}`)),
        )
      })
      await Promise.all(events.map((e, i) => three[i % 3]!.enqueue(e)))
      const newest = new Map<string, string>()
      events.forEach((e, i) => {
        for (const s of e.secrets) newest.set(s.name, `${s.name}@${i}`)
      })
      const claimed = await three[1]!.claim({ owner: 'w', now: T0, leaseMs: LEASE_MS, limit: 10 })
      expect(new Map(claimed.map((c) => [c.name, opened(c)]))).toEqual(newest)
      // every backend reports its deadlocks when it exits
      for (const store of three) await store.close()
      await until(async () => {
        const { rows } = await adminQuery<{ n: number }>(
          adminUrl,
          'SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
          [db.name],
        )
        return rows[0]?.n === 0
      }, 'the stores to disconnect')
      const { rows } = await adminQuery<{ n: number }>(
        adminUrl,
        'SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = $1',
        [db.name],
      )
      expect(rows[0]?.n).toBe(0)
    })

    it('never leases one name to two stores at once, and writes each name’s newest value last', async () => {
      const db = await freshDb()
      const three = await Promise.all([open(db.url), open(db.url), open(db.url)])
      const names = Array.from({ length: 60 }, (_, i) => `NAME_${i}`)
      // three values per name, sent through different stores in scrambled order
      const values = names.flatMap((name, n) => [0, 1, 2].map((v) => ({ name, time: T0 + v * 1000 + n, v })))
      values.sort((a, b) => ((a.time * 7919) % 97) - ((b.time * 7919) % 97))
      await Promise.all(
        values.map((x, i) =>
          three[i % 3]!.enqueue(newEvent(x.time, [sealed('v', x.name, `${x.name}@${x.v}`)])),
        ),
      )
      let seed = 42
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
        return seed / 2_147_483_648
      }
      /** Live leases as the test knows them: name -> lease end. */
      const held = new Map<string, number>()
      const newestValue = new Map(names.map((name) => [name, `${name}@2`]))
      const lastDelivered = new Map<string, string>()
      let now = T0 + 10_000
      let claims = 0
      let contended = 0
      let extra = 0
      for (let round = 0; round < 300; round++) {
        now += round % 25 === 24 ? LEASE_MS : 1 // now and then every unsettled lease runs out
        for (const [name, until] of held) if (until <= now) held.delete(name)
        // newer values arrive during the first 150 rounds only, so the rest surely drains the queue
        const late = round < 150 && random() < 0.5 ? names[Math.floor(random() * names.length)]! : undefined
        const [claimed] = await Promise.all([
          Promise.all(three.map((s, i) => s.claim({ owner: `s${i}`, now, leaseMs: LEASE_MS, limit: 3 }))),
          // a newer value arriving while the others claim
          ...(late
            ? [
                three[round % 3]!.enqueue(
                  newEvent(T0 + 5000 + round, [sealed('v', late, `${late}@r${round}`)]),
                ),
              ]
            : []),
        ])
        if (late) {
          newestValue.set(late, `${late}@r${round}`)
          extra++
        }
        if (claimed.filter((c) => c.length > 0).length > 1) contended++
        const seen = new Set<string>()
        for (const batch of claimed) {
          for (const c of batch) {
            expect(held.has(c.name), `${c.name} leased while another lease lives`).toBe(false)
            expect(seen.has(c.name), `${c.name} leased twice in one round`).toBe(false)
            seen.add(c.name)
            held.set(c.name, now + LEASE_MS)
            claims++
          }
        }
        // the database's live leases (one per names row) are the ones the test holds, each on a
        // secret of its own name
        const live = await adminQuery<{ name: string; until: string; own: boolean }>(
          db.url,
          `SELECT n.name, n.lease_until AS until, s.vault IS NOT DISTINCT FROM n.vault
             AND s.name IS NOT DISTINCT FROM n.name AS own
           FROM names n LEFT JOIN secrets s ON s.id = n.lease_secret WHERE n.lease_until > $1`,
          [now],
        )
        expect(new Map(live.rows.map((r) => [r.name, Number(r.until)]))).toEqual(held)
        expect(live.rows.every((r) => r.own)).toBe(true)
        // settle most of what was claimed: delivered, retried now, or left to run out (a replica died)
        for (const [i, batch] of claimed.entries()) {
          const outcomes = batch.flatMap((c): Outcome[] => {
            const r = random()
            if (r < 0.35) return [{ id: c.id, kind: 'delivered', version: 1 }]
            if (r < 0.9) return [{ id: c.id, kind: 'retry', at: now, error: 'try again', countAttempt: true }]
            return []
          })
          await three[i]!.settle(`s${i}`, now, outcomes)
          for (const o of outcomes) {
            const c = batch.find((x) => x.id === o.id)!
            held.delete(c.name)
            if (o.kind === 'delivered') lastDelivered.set(c.name, opened(c))
          }
        }
        if ((await three[0]!.counts()).queued === 0 && round > 50) break
      }
      expect((await three[0]!.counts()).queued).toBe(0)
      expect(claims).toBeGreaterThan(names.length)
      expect(contended).toBeGreaterThan(10)
      expect(extra).toBeGreaterThan(10)
      // the watermark and the last value delivered for each name are the newest ever queued for it
      const newest = await adminQuery<{ name: string; id: string }>(
        db.url,
        `SELECT DISTINCT ON (name) name, id FROM secrets ORDER BY name, event_time DESC, id DESC`,
      )
      const watermarks = await adminQuery<{ name: string; delivered_secret_id: string }>(
        db.url,
        'SELECT name, delivered_secret_id FROM names',
      )
      const marks = new Map(watermarks.rows.map((r) => [r.name, Number(r.delivered_secret_id)]))
      for (const row of newest.rows) expect(marks.get(row.name), row.name).toBe(Number(row.id))
      for (const name of names) expect(lastDelivered.get(name), name).toBe(newestValue.get(name))
    }, 60_000)
  })
})
