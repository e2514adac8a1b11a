// The PostgreSQL store: the shared contract on a real server, plus what only several processes on one
// database can get wrong: migrations racing, leases and dedup across stores, outages and recovery.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { isRelayError } from '../../src/errors.js'
import { parseConfig } from '../../src/load-config.js'
import { createLogger } from '../../src/log.js'
import { createSealer } from '../../src/queue/crypto.js'
import {
  createPostgresStore,
  createPostgresStoreWhenReachable,
  type PostgresStoreOptions,
} from '../../src/queue/postgres.js'
import { MAX_EVENTS_PER_STATEMENT } from '../../src/queue/postgres-enqueue.js'
import { MIGRATIONS } from '../../src/queue/postgres-schema.js'
import type { Claimed, EnqueueResult, Outcome, Store } from '../../src/queue/store.js'
import { buildSources } from '../../src/receive/sources.js'
import {
  adminQuery,
  createTestDatabase,
  startEmbeddedPostgres,
  type TestDatabase,
} from '../support/postgres.js'
import { until } from '../support/relay-process.js'
import { storeContract } from './store-contract.js'
import { LEASE_MS, newEvent, opened, referenced, sealed, T0 } from './store-contract-helpers.js'

const adminUrl = inject('pgAdminUrl')
let contractDb: TestDatabase | undefined
let contractPool: pg.Pool | undefined

beforeAll(async () => {
  contractDb = await createTestDatabase(adminUrl)
  contractPool = new pg.Pool({ connectionString: contractDb.url, max: 1 })
})
afterAll(async () => {
  await contractPool?.end()
  await contractDb?.drop()
})

// One database for the contract, emptied before each test: far quicker than a database per test.
storeContract('postgres', async () => {
  const store = await createPostgresStore({ url: contractDb!.url, poolSize: 4 })
  await contractPool!.query('TRUNCATE attempts, event_provenance, secrets, events, names RESTART IDENTITY')
  await contractPool!.query('UPDATE control SET paused = FALSE, changed_at = NULL, reason = NULL')
  return { store, cleanup: () => store.close() }
})

describe('postgres store', () => {
  const stores: Store[] = []
  const databases: TestDatabase[] = []
  const open = async (url: string, options: Partial<PostgresStoreOptions> = {}): Promise<Store> => {
    const store = await createPostgresStore({ url, poolSize: 4, ...options })
    stores.push(store)
    return store
  }
  const freshDb = async (): Promise<TestDatabase> => {
    const db = await createTestDatabase(adminUrl)
    databases.push(db)
    return db
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => {})
    for (const db of databases.splice(0)) await db.drop()
  })

  describe('migrations', () => {
    it('applies each version once when several replicas start together, and again finds nothing to do', async () => {
      const db = await freshDb()
      const [first, ...others] = await Promise.all(Array.from({ length: 5 }, () => open(db.url)))
      await open(db.url)
      const { rows } = await adminQuery<{ version: number }>(
        db.url,
        'SELECT version FROM schema_migrations ORDER BY version',
      )
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
      await first!.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      expect(
        (await others[3]!.claim({ owner: 'w', now: T0, leaseMs: LEASE_MS, limit: 10 })).map(opened),
      ).toEqual(['a'])
    })

    it('refuses a database written by a newer version of the relay', async () => {
      const db = await freshDb()
      await (await open(db.url)).close()
      await adminQuery(db.url, 'INSERT INTO schema_migrations (version) VALUES ($1)', [MIGRATIONS.length + 1])
      await expect(createPostgresStore({ url: db.url, poolSize: 1 })).rejects.toThrow(
        /newer than this relay knows/,
      )
    })

    it('fails to open, without the password, when the database cannot be reached', async () => {
      const url = 'postgres://relay:hunter2-password@127.0.0.1:1/relay'
      const failed = await createPostgresStore({ url, poolSize: 1, connectTimeoutMs: 1000 }).catch(
        (e: Error) => e,
      )
      expect(failed).toBeInstanceOf(Error)
      expect((failed as Error).message).toMatch(/cannot open the PostgreSQL queue store/)
      expect((failed as Error).message).not.toContain('hunter2')
    })
  })

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

  describe('group commit', () => {
    /** How many transactions wrote the events rows (each row carries the id of the one that made it). */
    const transactionsOf = async (url: string) => {
      const { rows } = await adminQuery<{ n: number }>(
        url,
        'SELECT COUNT(DISTINCT xmin::text)::int AS n FROM events',
      )
      return rows[0]?.n
    }

    it('records events enqueued at once in one transaction, each with its own result', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      const first = newEvent(T0, [sealed('v', 'A', 'a1')])
      await store.enqueue(first)
      const events = [
        newEvent(T0 + 1, [sealed('v', 'A', 'a2'), sealed('v', 'B', 'b1')]),
        newEvent(T0 - 1, [sealed('v', 'B', 'b0')]),
        { ...first, secrets: [sealed('v', 'A', 'again')] },
        newEvent(T0 + 2, []),
        newEvent(T0 + 3, [sealed('w', 'A', 'wa'), sealed('w', 'A', 'wa2')]),
      ]
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results).toEqual([
        { duplicate: false, queued: 2, superseded: 0 },
        // B's value at T0 - 1 arrives after the newer b1 of the same batch
        { duplicate: false, queued: 0, superseded: 1 },
        { duplicate: true, queued: 0, superseded: 0 },
        { duplicate: false, queued: 0, superseded: 0 },
        // the later of two values of one name in one event wins, as when enqueued alone
        { duplicate: false, queued: 2, superseded: 0 },
      ])
      expect(await transactionsOf(db.url)).toBe(2)
      expect(await store.counts()).toMatchObject({ queued: 3, superseded: 3 })
      const claimed = await store.claim({ owner: 'w', now: T0 + 10, leaseMs: LEASE_MS, limit: 10 })
      expect(new Map(claimed.map((c) => [`${c.vault}/${c.name}`, opened(c)]))).toEqual(
        new Map([
          ['v/A', 'a2'],
          ['v/B', 'b1'],
          ['w/A', 'wa2'],
        ]),
      )
    })

    it('decides a batch of values of the same names as if each event came alone, in order', async () => {
      // a seeded mix: 5 names in 2 vaults, event times that tie and go backwards, events of 1-3 secrets
      let seed = 7
      const next = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed % n
      }
      const key = () => ({ vault: `v${next(2)}`, name: `N${next(3)}` })
      const before = Array.from({ length: 6 }, (_, i) => ({ time: T0 + next(8), secrets: [key()], i }))
      const batch = Array.from({ length: 60 }, (_, i) => ({
        time: T0 + next(12),
        secrets: Array.from({ length: 1 + next(3) }, key),
        i,
      }))
      const build = (prefix: string, e: (typeof batch)[number]) =>
        newEvent(
          e.time,
          e.secrets.map((k, j) => sealed(k.vault, k.name, `${prefix}${e.i}.${j}`)),
          { eventId: `${prefix}${e.i}` },
        )
      /** The same history on a fresh database: some values queued and delivered, then `write` the batch. */
      const run = async (write: (store: Store, events: ReturnType<typeof build>[]) => Promise<unknown[]>) => {
        const store = await open((await freshDb()).url)
        for (const e of before) await store.enqueue(build('d', e))
        const claimed = await store.claim({ owner: 'w', now: T0 + 100, leaseMs: LEASE_MS, limit: 100 })
        await store.settle(
          'w',
          T0 + 100,
          claimed.filter((c) => c.name !== 'N2').map((c) => ({ id: c.id, kind: 'delivered', version: 1 })),
        )
        const results = await write(
          store,
          batch.map((e) => build('b', e)),
        )
        const events = await Promise.all(batch.map((e) => store.getEvent('stripe', `b${e.i}`)))
        const statuses = events.map((e) => e?.secrets?.map((x) => [x.name, x.status, x.lastError]))
        const queued = await store.claim({ owner: 'x', now: T0 + 200, leaseMs: LEASE_MS, limit: 100 })
        return { results, statuses, queued: queued.map((c) => `${c.vault}/${c.name}=${opened(c)}`).sort() }
      }
      const alone = await run(async (store, events) => {
        const results = []
        for (const e of events) results.push(await store.enqueue(e))
        return results
      })
      const together = await run((store, events) => Promise.all(events.map((e) => store.enqueue(e))))
      expect(together).toEqual(alone)
      expect(alone.results.some((r) => (r as EnqueueResult).superseded > 0)).toBe(true)
      expect(alone.statuses.flat().some((x) => x?.[2] === 'older than the value already delivered')).toBe(
        true,
      )
    })

    it('fails only the event the database refuses, and records the others of its batch', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      // PostgreSQL text cannot hold NUL: the statement holding this event is refused whole
      const bad = newEvent(T0, [sealed('v', 'BAD', 'x')], { eventId: 'evt\u0000nul' })
      const good = Array.from({ length: 6 }, (_, i) => newEvent(T0 + i, [sealed('v', `N${i}`, `x${i}`)]))
      const settled = await Promise.allSettled(
        [...good.slice(0, 3), bad, ...good.slice(3)].map((e) => store.enqueue(e)),
      )
      const refused = settled[3]!
      expect(refused.status).toBe('rejected')
      expect(
        isRelayError(refused.status === 'rejected' ? refused.reason : null, 'ERR_STORE_UNAVAILABLE'),
      ).toBe(true)
      expect(settled.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual(
        good.map(() => ({ duplicate: false, queued: 1, superseded: 0 })),
      )
      expect(await store.counts()).toMatchObject({ queued: 6 })
      expect((await store.listEvents({ limit: 10 })).map((e) => e.eventId).sort()).toEqual(
        good.map((e) => e.eventId).sort(),
      )
    })

    it('splits a burst bigger than one statement takes into several, and records every event', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      const events = Array.from({ length: MAX_EVENTS_PER_STATEMENT * 2 + 10 }, (_, i) =>
        newEvent(T0 + i, [sealed(`v${i % 5}`, `N${i % 50}`, `x${i}`)]),
      )
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results.every((r) => !r.duplicate && r.queued + r.superseded === 1)).toBe(true)
      expect(await store.counts()).toMatchObject({ queued: 50, superseded: events.length - 50 })
      const transactions = await transactionsOf(db.url)
      expect(transactions).toBeGreaterThanOrEqual(3)
      expect(transactions).toBeLessThan(events.length / 10)
    })
  })

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

  describe('retention', () => {
    const DAY = 86_400_000
    const count = async (url: string, table: 'events' | 'secrets' | 'names') =>
      (await adminQuery<{ n: number }>(url, `SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0]?.n

    /** `n` events received from T0, one secret each, all delivered. */
    async function deliveredEvents(store: Store, n: number): Promise<void> {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.enqueue(newEvent(T0, [sealed('v', `N${i}`, `x${i}`)], { receivedAt: T0 + i })),
        ),
      )
      const claimed = await store.claim({ owner: 'w', now: T0 + n, leaseMs: LEASE_MS, limit: n })
      await store.settle(
        'w',
        T0 + n,
        claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
      )
    }

    it('lets two stores purge at once: each event is deleted once and neither fails', async () => {
      const db = await freshDb()
      const [a, b] = await Promise.all([open(db.url), open(db.url)])
      await deliveredEvents(a, 300)
      expect(await count(db.url, 'names')).toBe(300)
      const before = T0 + DAY
      const wave = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).purge(before, 25)),
      )
      // a purge whose snapshot predates another's commit finds fewer: what is left goes in later calls
      let total = wave.reduce((x, y) => x + y, 0)
      for (;;) {
        const n = await b.purge(before, 100)
        total += n
        if (n === 0) break
      }
      expect(total).toBe(300)
      expect(await count(db.url, 'events')).toBe(0)
      expect(await count(db.url, 'secrets')).toBe(0)
      expect(await count(db.url, 'names')).toBe(300)
    })

    it('skips an event another transaction holds, without waiting for it', async () => {
      const db = await freshDb()
      const store = await open(db.url)
      await deliveredEvents(store, 2)
      const held = new pg.Client({ connectionString: db.url })
      await held.connect()
      try {
        await held.query('BEGIN')
        // what an admin retry of the oldest event holds while it re-queues
        await held.query('SELECT id FROM events ORDER BY received_at LIMIT 1 FOR KEY SHARE')
        expect(await store.purge(T0 + DAY, 100)).toBe(1)
        await held.query('COMMIT')
      } finally {
        await held.end()
      }
      expect(await store.purge(T0 + DAY, 100)).toBe(1)
    })

    it('never deletes a secret an admin retry re-queues meanwhile', async () => {
      const db = await freshDb()
      const [a, b] = await Promise.all([open(db.url), open(db.url)])
      const events = Array.from({ length: 40 }, (_, i) =>
        newEvent(T0, [referenced('v', `R${i}`, { secretId: `db${i}` })], { receivedAt: T0 + i }),
      )
      for (const e of events) await a.enqueue(e)
      const claimed = await a.claim({ owner: 'w', now: T0 + 50, leaseMs: LEASE_MS, limit: 40 })
      await a.settle(
        'w',
        T0 + 50,
        claimed.map((c) => ({ id: c.id, kind: 'dead' as const, error: 'AWS said no' })),
      )
      // retries and purges of the same events, racing
      const [retried, purged] = await Promise.all([
        Promise.all(events.map((e) => a.retryEvent(e.source, e.eventId, T0 + DAY))),
        Promise.all(Array.from({ length: 10 }, () => b.purge(T0 + DAY, 3))),
      ])
      const requeued = retried.filter((n) => n === 1).length
      expect(requeued + purged.reduce((x, y) => x + y, 0)).toBe(40)
      for (const [i, e] of events.entries()) {
        const shown = await a.getEvent(e.source, e.eventId)
        // a retry that answered 1 left a queued secret; one that answered 0 found the event purged
        if (retried[i] === 1) expect(shown?.counts).toEqual({ queued: 1 })
        else expect(shown).toBeNull()
      }
      expect((await a.counts()).queued).toBe(requeued)
    })
  })

  describe('outages', () => {
    const yaml = `
rateLimit: { max: 0 }
sources:
  - id: ops
    verify: { type: api-key, header: x-key, keys: ["k"] }
    rules:
      - secrets: [{ vault: ops, name: "{{ /name }}", value: /value }]
`
    const sealer = createSealer(randomBytes(32))
    async function appOn(store: Store) {
      const config = parseConfig(yaml, { RWX_ACCESS_TOKEN: 't' })
      const app = await buildApp(config, {
        store,
        sealer,
        sources: buildSources(config.sources, {}),
        logger: createLogger('silent'),
      })
      await app.ready()
      return app
    }
    const hook = (name: string) => ({
      method: 'POST' as const,
      url: '/hooks/ops',
      headers: { 'x-key': 'k', 'content-type': 'application/json' },
      payload: JSON.stringify({ name, value: `v-${name}` }),
    })

    /** Runs the outage checks around `down`/`up`, with a store (and app) that is never reopened. */
    async function survives(url: string, down: () => Promise<void>, up: () => Promise<void>): Promise<void> {
      const store = await open(url, { connectTimeoutMs: 1000, statementTimeoutMs: 2000 })
      const app = await appOn(store)
      try {
        const before = newEvent(T0, [sealed('v', 'BEFORE', 'kept')])
        await store.enqueue(before)
        expect((await app.inject(hook('FIRST'))).statusCode).toBe(202)
        await down()
        const refused = await store
          .enqueue(newEvent(T0, [sealed('v', 'DURING', 'x')]))
          .catch((e: unknown) => e)
        expect(isRelayError(refused, 'ERR_STORE_UNAVAILABLE')).toBe(true)
        expect((refused as { retryAfter?: number }).retryAfter).toBeGreaterThanOrEqual(1)
        await expect(store.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryAfter: 5 })
        await expect(store.claim({ owner: 'w', now: T0, leaseMs: 1, limit: 1 })).rejects.toMatchObject({
          code: 'ERR_STORE_UNAVAILABLE',
        })
        const during = await app.inject(hook('DURING'))
        expect(during.statusCode).toBe(503)
        expect(during.headers['retry-after']).toBeDefined()
        expect(during.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
        const ready = await app.inject({ method: 'GET', url: '/readyz' })
        expect(ready.statusCode).toBe(503)
        expect(ready.headers['retry-after']).toBeDefined()
        await up()
        // the same store and app recover on their own once the database answers again
        await until(
          () =>
            store.ping().then(
              () => true,
              () => false,
            ),
          'the store to reach the database',
          20_000,
        )
        expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
        expect((await app.inject(hook('DURING'))).statusCode).toBe(202)
        expect(await store.enqueue(before)).toMatchObject({ duplicate: true })
        const claimed = await store.claim({
          owner: 'w',
          now: Date.now() + 1000,
          leaseMs: LEASE_MS,
          limit: 10,
        })
        expect(claimed.map((c) => c.name).sort()).toEqual(['BEFORE', 'DURING', 'FIRST'])
      } finally {
        await app.close()
      }
    }

    it('answers 503 while connections are cut and refused, then recovers without a restart', async () => {
      const db = await freshDb()
      await survives(
        db.url,
        async () => {
          await adminQuery(adminUrl, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`)
          await adminQuery(
            adminUrl,
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [db.name],
          )
        },
        async () => {
          await adminQuery(adminUrl, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
        },
      )
    })

    /** A warn-level logger whose lines the test reads. */
    function capturedLog() {
      const lines: string[] = []
      const log = createLogger('warn', { write: (line: string) => lines.push(line) })
      return { log, lines }
    }

    it.skipIf(!inject('pgEmbedded'))(
      'waits at start-up for a database that cannot be reached yet, then opens on it',
      async () => {
        const server = await startEmbeddedPostgres()
        try {
          const db = await createTestDatabase(server.url)
          await server.stop()
          const { log, lines } = capturedLog()
          const opening = createPostgresStoreWhenReachable(
            { url: db.url, poolSize: 2, log, connectTimeoutMs: 2_000 },
            { firstDelayMs: 50, maxDelayMs: 200 },
          )
          // a warning a try, and still trying
          await until(() => lines.length >= 2, 'two warnings while the database is down', 20_000)
          await server.start()
          const store = await opening
          stores.push(store)
          await store.ping()
          expect(await store.enqueue(newEvent(T0, [sealed('v', 'A', 'after-the-wait')]))).toMatchObject({
            queued: 1,
          })
          expect(lines.every((l) => l.includes('PostgreSQL cannot be reached yet'))).toBe(true)
          // the URL (it holds the password) is never in the log
          expect(lines.join('\n')).not.toContain(new URL(db.url).password || db.url)
        } finally {
          for (const store of stores.splice(0)) await store.close().catch(() => {})
          await server.destroy()
        }
      },
      60_000,
    )

    it('does not wait for a database that turns the relay away: it fails at once', async () => {
      const { log, lines } = capturedLog()
      const missing = new URL(adminUrl)
      missing.pathname = `/no_such_database_${randomBytes(4).toString('hex')}`
      const opening = createPostgresStoreWhenReachable(
        { url: missing.toString(), poolSize: 1, log },
        { firstDelayMs: 60_000, maxDelayMs: 60_000 },
      )
      await expect(opening).rejects.toThrow(/3D000|does not exist/)
      expect(lines).toEqual([])
    })

    it.skipIf(!inject('pgEmbedded'))(
      'answers 503 while the server is stopped, then recovers when it is started again',
      async () => {
        const server = await startEmbeddedPostgres()
        try {
          const db = await createTestDatabase(server.url)
          await survives(
            db.url,
            () => server.stop(),
            () => server.start(),
          )
        } finally {
          for (const store of stores.splice(0)) await store.close().catch(() => {})
          await server.destroy()
        }
      },
      60_000,
    )
  })
})
