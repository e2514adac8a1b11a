// Claims on PostgreSQL: whole vaults first when more is due than one claim takes, due order otherwise,
// and several claimers at once.
import { describe, expect, it } from 'vitest'
import type { Claimed, Store } from '../../../src/queue/store.js'
import { LEASE_MS, newEvent, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

describe('postgres store', () => {
  const { open, freshDb } = storesOnFreshDatabases()

  describe('claims', () => {
    /** `perVault` secrets in each of `vaults` vaults, arriving one per vault in turn from `at`. */
    async function backlog(store: Store, vaults: number, perVault: number, at = T0, prefix = 'v') {
      for (let i = 0; i < vaults * perVault; i++) {
        const vault = `${prefix}${String(i % vaults).padStart(2, '0')}`
        await store.enqueue(newEvent(T0, [sealed(vault, `N${i}`, `x${i}`)], { receivedAt: at + i }))
      }
    }
    /** How many secrets of each vault a claim took, in the order the vaults first appear. */
    const vaultsOf = (claimed: readonly Claimed[]) => {
      const counts = new Map<string, number>()
      for (const c of claimed) counts.set(c.vault, (counts.get(c.vault) ?? 0) + 1)
      return [...counts.entries()]
    }

    it('takes whole vaults, the longest-waiting first, when more is due than one claim takes', async () => {
      const store = await open((await freshDb()).url)
      // 12 vaults of 25, interleaved: in due order, any 60 would hold 5 of every vault
      await backlog(store, 12, 25)
      const now = T0 + 10_000
      const first = await store.claim({ owner: 'w1', now, leaseMs: LEASE_MS, limit: 60 })
      expect(vaultsOf(first)).toEqual([
        ['v00', 25],
        ['v01', 25],
        ['v02', 10],
      ])
      // within a vault, oldest first: v02's first ten arrivals
      expect(first.filter((c) => c.vault === 'v02').map((c) => c.name)).toEqual(
        Array.from({ length: 10 }, (_, k) => `N${2 + 12 * k}`),
      )
      // drained claim by claim, each vault goes out in at most two pieces (one request each, batch 25+)
      const pieces = [first]
      for (let round = 0; round < 10; round++) {
        const claimed = await store.claim({ owner: 'w1', now, leaseMs: LEASE_MS, limit: 60 })
        if (claimed.length === 0) break
        pieces.push(claimed)
      }
      expect(pieces.flat()).toHaveLength(300)
      expect(new Set(pieces.flat().map((c) => c.id)).size).toBe(300)
      expect(pieces.map((p) => p.length)).toEqual([60, 60, 60, 60, 60])
      expect(pieces.flatMap(vaultsOf).length).toBeLessThanOrEqual(12 + 4)
    })

    it('takes in due order, whatever the vault, when everything due fits in one claim', async () => {
      const store = await open((await freshDb()).url)
      await backlog(store, 4, 5)
      const claimed = await store.claim({ owner: 'w1', now: T0 + 100, leaseMs: LEASE_MS, limit: 21 })
      expect(claimed.map((c) => c.name)).toEqual(Array.from({ length: 20 }, (_, i) => `N${i}`))
    })

    it('fills a claim the whole vaults cannot fill from later vaults, in due order', async () => {
      const store = await open((await freshDb()).url)
      // 8 names in flight in vault "held", each with a newer value queued (held back until sent)
      for (let i = 0; i < 8; i++) {
        await store.enqueue(newEvent(T0, [sealed('held', `H${i}`, 'old')], { receivedAt: T0 }))
      }
      expect(await store.claim({ owner: 'w0', now: T0, leaseMs: LEASE_MS, limit: 8 })).toHaveLength(8)
      for (let i = 0; i < 8; i++) {
        await store.enqueue(newEvent(T0 + 1, [sealed('held', `H${i}`, 'new')], { receivedAt: T0 + 1 + i }))
      }
      // the oldest 10 due: the 8 held back and the first 2 of "b"; "c" arrives after them
      await backlog(store, 1, 5, T0 + 100, 'b')
      await backlog(store, 1, 5, T0 + 200, 'c')
      const claimed = await store.claim({ owner: 'w1', now: T0 + 1000, leaseMs: LEASE_MS, limit: 10 })
      expect(vaultsOf(claimed)).toEqual([
        ['b00', 5],
        ['c00', 5],
      ])
      // the whole window held back: the claim still finds what is claimable after it
      const c2 = await store.claim({ owner: 'w2', now: T0 + 1000, leaseMs: LEASE_MS, limit: 8 })
      expect(c2).toEqual([])
      await backlog(store, 1, 3, T0 + 300, 'd')
      const c3 = await store.claim({ owner: 'w2', now: T0 + 1000, leaseMs: LEASE_MS, limit: 8 })
      expect(vaultsOf(c3)).toEqual([['d00', 3]])
    })

    it('gives several stores claiming at once whole vaults, never one name twice', async () => {
      const db = await freshDb()
      const three = await Promise.all([open(db.url), open(db.url), open(db.url)])
      await backlog(three[0]!, 20, 30)
      const now = T0 + 10_000
      const all: Claimed[] = []
      let pieces = 0
      for (let round = 0; round < 10; round++) {
        const claimed = await Promise.all(
          three.map((s, i) => s.claim({ owner: `s${i}`, now, leaseMs: LEASE_MS, limit: 50 })),
        )
        for (const c of claimed) {
          all.push(...c)
          pieces += vaultsOf(c).length
        }
        if (claimed.every((c) => c.length === 0)) break
      }
      expect(all).toHaveLength(600)
      expect(new Set(all.map((c) => `${c.vault}/${c.name}`)).size).toBe(600)
      // 12 claims of 50 over 20 vaults of 30. In due order each claim would hold some of every vault
      // (240 pieces); whole vaults are split once at most when claims take turns (20 + 11), and now and
      // then once more when a claim loses names to another's and fills up in due order.
      expect(pieces).toBeLessThanOrEqual(48)
    })
  })
})
