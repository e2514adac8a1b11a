// Kept plans (migration 12): relay_enqueue_many and relay_settle keep the plans a connection made on an empty
// database, and once the tables have grown they still look a batch's rows up by index, never the queue.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { ENQUEUE, enqueueValues } from '../../../src/queue/postgres/enqueue.js'
import { CLAIM, claimValues, SETTLE, settleValues } from '../../../src/queue/postgres/leases.js'
import { migrate } from '../../../src/queue/postgres/migrate.js'
import type { NewEvent } from '../../../src/queue/store.js'
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js'

const adminUrl = inject('pgAdminUrl')
let db: TestDatabase | undefined
let pool: pg.Pool | undefined

afterEach(async () => {
  await pool?.end()
  pool = undefined
  await db?.drop()
})

let seq = 0
const event = (name: string, eventTime: number): NewEvent => ({
  source: 'plans',
  eventId: `e-${seq++}`,
  eventTime,
  receivedAt: Date.now(),
  secrets: [{ vault: 'v', name, sealed: randomBytes(28), ref: null, fingerprint: 'f' }],
  provenance: { verifier: 'hmac', keyId: 'secrets[0]', rules: ['rules[0].secrets[0]'] },
})

/** Sequential scans and rows fetched by index of names and secrets, by this session so far. */
async function reads(client: pg.PoolClient): Promise<Map<string, { seqScans: number; fetched: number }>> {
  const { rows } = await client.query<{ relname: string; seq_scan: string; idx_tup_fetch: string }>(
    `SELECT relname, seq_scan, idx_tup_fetch FROM pg_stat_xact_user_tables
     WHERE relname IN ('secrets', 'names')`,
  )
  return new Map(
    rows.map((r) => [r.relname, { seqScans: Number(r.seq_scan), fetched: Number(r.idx_tup_fetch) }]),
  )
}

describe('relay_enqueue_many plans', () => {
  it('looks rows up by name through indexes with plans made while the tables were empty', async () => {
    db = await createTestDatabase(adminUrl)
    pool = new pg.Pool({ connectionString: db.url, max: 1 })
    await migrate(pool)
    const client = await pool.connect()
    try {
      // the first call plans on empty tables; the same connection keeps those plans from here on
      const first = await client.query({ ...ENQUEUE, values: enqueueValues([event('FIRST', 1)]) })
      expect(first.rows).toEqual([{ duplicate: false, queued: 1, superseded: 0 }])
      for (let batch = 0; batch < 8; batch++) {
        const events = Array.from({ length: 250 }, (_, i) => event(`K_${batch}_${i}`, 1))
        const { rows } = await client.query({ ...ENQUEUE, values: enqueueValues(events) })
        expect(rows.every((r) => r.queued === 1)).toBe(true)
      }

      // 2,001 values queued: a newer value of one name supersedes its queued one, a new name queues.
      // What the call reads of each table: this session's counts before and after it, in one transaction
      // (a session reports its counts, and starts them again, only when idle outside of one).
      await client.query('BEGIN')
      const before = await reads(client)
      const { rows } = await client.query({
        ...ENQUEUE,
        values: enqueueValues([event('K_3_7', 2), event('NEW', 2)]),
      })
      const after = await reads(client)
      await client.query('COMMIT')
      expect(rows).toEqual([
        { duplicate: false, queued: 1, superseded: 0 },
        { duplicate: false, queued: 1, superseded: 0 },
      ])
      const superseded = await client.query(`SELECT status FROM secrets WHERE name = 'K_3_7' ORDER BY id`)
      expect(superseded.rows.map((r) => r.status)).toEqual(['superseded', 'queued'])
      // a few rows by index, not the 2,001 queued ones
      for (const table of ['names', 'secrets']) {
        const [was, is] = [before.get(table), after.get(table)]
        expect(is?.seqScans, table).toBe(was?.seqScans)
        expect((is?.fetched ?? 0) - (was?.fetched ?? 0), table).toBeLessThan(20)
      }
    } finally {
      client.release()
    }
  })

  it('settles a claim by key with plans made while the tables were empty', async () => {
    db = await createTestDatabase(adminUrl)
    pool = new pg.Pool({ connectionString: db.url, max: 1 })
    await migrate(pool)
    const client = await pool.connect()
    try {
      // as warm-up.ts does: the first call plans on empty tables, and the connection keeps those plans
      await client.query({ ...SETTLE, values: settleValues('w', 0, [], []) })
      for (let batch = 0; batch < 8; batch++) {
        const events = Array.from({ length: 250 }, (_, i) => event(`S_${batch}_${i}`, 1))
        await client.query({ ...ENQUEUE, values: enqueueValues(events) })
      }
      const now = Date.now() + 1000
      const claimed = await client.query<{ id: string }>({
        ...CLAIM,
        values: claimValues({ owner: 'w', now, leaseMs: 60_000, limit: 13 }, 0),
      })
      expect(claimed.rows).toHaveLength(13)
      const outcomes = claimed.rows.map((r) => ({ id: Number(r.id), kind: 'delivered' as const, version: 7 }))

      await client.query('BEGIN')
      const before = await reads(client)
      await client.query({ ...SETTLE, values: settleValues('w', now, outcomes, []) })
      const after = await reads(client)
      await client.query('COMMIT')
      const settled = await client.query(`SELECT COUNT(*)::int AS n FROM secrets WHERE status = 'delivered'`)
      expect(settled.rows[0].n).toBe(13)
      const leased = await client.query('SELECT COUNT(*)::int AS n FROM names WHERE lease_owner IS NOT NULL')
      expect(leased.rows[0].n).toBe(0)
      // 13 secrets and their names by key: not the 2,000 queued ones nor every name
      for (const table of ['names', 'secrets']) {
        const [was, is] = [before.get(table), after.get(table)]
        expect(is?.seqScans, table).toBe(was?.seqScans)
        expect((is?.fetched ?? 0) - (was?.fetched ?? 0), table).toBeLessThan(100)
      }
    } finally {
      client.release()
    }
  })
})
