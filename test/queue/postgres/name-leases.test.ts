// Leases on the names rows (migration 6): where a lease lives, that leasing leaves the secret's row alone,
// and a database of the previous schema with deliveries in flight migrated without losing one.
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { MIGRATIONS } from '../../../src/queue/postgres/migrations/index.js'
import { createPostgresStore } from '../../../src/queue/postgres/store.js'
import { OLDER_THAN_DELIVERED, SUPERSEDED_BY_NEWER } from '../../../src/queue/rows.js'
import type { NewEvent, Store } from '../../../src/queue/store.js'
import { adminQuery, createTestDatabase, type TestDatabase } from '../../support/postgres.js'
import { claim, LEASE_MS, newEvent, opened, recordOf, sealed, T0 } from '../contract/helpers.js'

const adminUrl = inject('pgAdminUrl')
const stores: Store[] = []
const databases: TestDatabase[] = []

async function freshDb(): Promise<TestDatabase> {
  const db = await createTestDatabase(adminUrl)
  databases.push(db)
  return db
}

async function open(url: string): Promise<Store> {
  const store = await createPostgresStore({ url, poolSize: 2 })
  stores.push(store)
  return store
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {})
  for (const db of databases.splice(0)) await db.drop()
})

interface LeaseRow {
  name: string
  lease_secret: number | null
  lease_owner: string | null
  lease_until: number | null
}

/** Each name's lease as its names row holds it. */
async function leases(url: string): Promise<Record<string, Omit<LeaseRow, 'name'>>> {
  const { rows } = await adminQuery<LeaseRow>(
    url,
    `SELECT name, lease_secret::float8 AS lease_secret, lease_owner, lease_until::float8 AS lease_until
     FROM names ORDER BY name`,
  )
  return Object.fromEntries(rows.map(({ name, ...lease }) => [name, lease]))
}

/** Where a secret's row version is and which transaction wrote it: both change when the row is rewritten. */
async function rowVersion(url: string, id: number): Promise<string> {
  const { rows } = await adminQuery<{ v: string }>(
    url,
    'SELECT ctid::text || xmin::text AS v FROM secrets WHERE id = $1',
    [id],
  )
  return rows[0]!.v
}

describe('leases on the names rows', () => {
  it('leases a secret on its name’s row, leaving the secret’s row unwritten until its outcome', async () => {
    const db = await freshDb()
    const store = await open(db.url)
    const event = newEvent(T0, [sealed('v', 'A', 'a')])
    await store.enqueue(event)
    const { id } = await recordOf(store, event)
    const before = await rowVersion(db.url, id)
    const [c] = await claim(store, T0, 'w1')
    expect(c?.id).toBe(id)
    expect(await rowVersion(db.url, id)).toBe(before)
    expect((await leases(db.url))['A']).toEqual({
      lease_secret: id,
      lease_owner: 'w1',
      lease_until: T0 + LEASE_MS,
    })
    await store.settle('w1', T0 + 5, [{ id, kind: 'delivered', version: 2 }])
    expect((await leases(db.url))['A']).toEqual({ lease_secret: null, lease_owner: null, lease_until: null })
    expect(await recordOf(store, event)).toMatchObject({ status: 'delivered', rwxVersion: 2 })
  })

  it('gives back on release only the leases of that owner', async () => {
    const db = await freshDb()
    const store = await open(db.url)
    await store.enqueue(newEvent(T0, [sealed('v', 'A', 'a'), sealed('v', 'B', 'b')]))
    await claim(store, T0, 'w1', 1)
    await claim(store, T0, 'w2', 1)
    await store.release('w1')
    expect(await leases(db.url)).toMatchObject({
      A: { lease_owner: null, lease_secret: null },
      B: { lease_owner: 'w2' },
    })
  })

  it('records a round’s attempts in the transaction of its outcomes, even for a lease lost meanwhile', async () => {
    const db = await freshDb()
    const store = await open(db.url)
    await store.enqueue(newEvent(T0, [sealed('v', 'B', 'b')]))
    const [b] = await claim(store, T0, 'w1')
    await store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')], { receivedAt: T0 + 10 }))
    const [a] = await claim(store, T0 + 10, 'w1')
    // B's lease runs out and w2 takes it: w1's outcome for B is ignored, its attempt is kept
    expect((await claim(store, T0 + LEASE_MS, 'w2')).map((c) => c.name)).toEqual(['B'])
    const tried = (secretId: number, at: number) => ({
      secretId,
      at,
      outcome: 'retry',
      status: '503',
      version: null,
      error: 'down',
    })
    await store.settle(
      'w1',
      T0 + LEASE_MS,
      [
        { id: a!.id, kind: 'delivered', version: 1 },
        { id: b!.id, kind: 'retry', at: T0 + 1, error: 'down', countAttempt: true },
      ],
      [tried(a!.id, T0 + 1), tried(b!.id, T0 + 2), tried(a!.id, T0 + 3)],
    )
    const { rows } = await adminQuery<{ secret: string; at: string; same: boolean }>(
      db.url,
      `SELECT a.secret, a.at, a.xmin::text = (SELECT s.xmin::text FROM secrets s WHERE s.id = $1) AS same
       FROM attempts a ORDER BY a.id`,
      [a!.id],
    )
    expect(rows.map((r) => [Number(r.secret), Number(r.at), r.same])).toEqual([
      [a!.id, T0 + 1, true],
      [b!.id, T0 + 2, true],
      [a!.id, T0 + 3, true],
    ])
    expect(await leases(db.url)).toMatchObject({ A: { lease_owner: null }, B: { lease_owner: 'w2' } })
  })

  it('keeps an event whose superseded value is in flight from purge until that lease ends', async () => {
    const db = await freshDb()
    const store = await open(db.url)
    const old = newEvent(T0, [sealed('v', 'A', 'old')], { receivedAt: T0 })
    await store.enqueue(old)
    await claim(store, T0, 'w1')
    await store.enqueue(newEvent(T0 + 1, [sealed('v', 'A', 'new')], { receivedAt: T0 + 1 }))
    expect(await recordOf(store, old)).toMatchObject({ status: 'superseded' })
    expect(await store.purge(T0 + LEASE_MS - 1, 10)).toBe(0)
    expect(await store.purge(T0 + LEASE_MS, 10)).toBe(1)
  })
})

/** Brings a fresh database to schema `version` (the migrations of a relay of that version). */
async function migrateTo(url: string, version: number): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('BEGIN')
    await client.query(`CREATE TABLE schema_migrations (
      version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
    for (let i = 0; i < version; i++) {
      await client.query(MIGRATIONS[i]!.sql)
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1])
    }
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
}

/** An event queued as a relay of schema 5 queues it: relay_enqueue_many (migration 4). */
async function enqueueV5(url: string, event: NewEvent): Promise<void> {
  const s = event.secrets
  await adminQuery(
    url,
    'SELECT * FROM relay_enqueue_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)',
    [
      [event.source],
      [event.eventId],
      [event.eventTime],
      [event.receivedAt],
      s.map(() => 1),
      s.map((x) => x.vault),
      s.map((x) => x.name),
      s.map(() => null),
      s.map((x) => x.sealed),
      s.map(() => null),
      s.map((x) => x.fingerprint),
      OLDER_THAN_DELIVERED,
      SUPERSEDED_BY_NEWER,
    ],
  )
}

/** A claim as a relay of schema 5 makes it: relay_claim (migration 4), the lease on the secret's row. */
async function claimV5(url: string, owner: string, now: number, limit: number): Promise<string[]> {
  const { rows } = await adminQuery<{ name: string }>(
    url,
    'SELECT name FROM relay_claim($1, $2, $3, $4, 16)',
    [owner, now, now + LEASE_MS, limit],
  )
  return rows.map((r) => r.name)
}

describe('migrating from schema 5 with deliveries in flight', () => {
  it('moves each live lease to its name, so no name is sent twice at once and no outcome is lost', async () => {
    const db = await freshDb()
    await migrateTo(db.url, 5)
    const c = newEvent(T0, [sealed('v', 'C', 'c')], { receivedAt: T0 - LEASE_MS - 10 })
    await enqueueV5(db.url, c)
    // C leased until T0: expired by the time the new relay looks
    expect(await claimV5(db.url, 'w3', T0 - LEASE_MS, 1)).toEqual(['C'])
    const aOld = newEvent(T0, [sealed('v', 'A', 'a-old')], { receivedAt: T0 - 2 })
    const b = newEvent(T0, [sealed('v', 'B', 'b')], { receivedAt: T0 - 1 })
    const d = newEvent(T0, [sealed('v', 'D', 'd')], { receivedAt: T0 + 5 })
    for (const e of [aOld, b, d]) await enqueueV5(db.url, e)
    expect(await claimV5(db.url, 'w1', T0 - 1, 1)).toEqual(['A'])
    expect(await claimV5(db.url, 'w2', T0 - 1, 1)).toEqual(['B'])
    // a newer value of A while the old one is in flight: it supersedes it, and waits for its lease
    const aNew = newEvent(T0 + 1, [sealed('v', 'A', 'a-new')], { receivedAt: T0 })
    await enqueueV5(db.url, aNew)

    const store = await open(db.url)
    const ids = {
      aOld: (await recordOf(store, aOld)).id,
      b: (await recordOf(store, b)).id,
      c: (await recordOf(store, c)).id,
    }
    expect(await leases(db.url)).toEqual({
      A: { lease_secret: ids.aOld, lease_owner: 'w1', lease_until: T0 - 1 + LEASE_MS },
      B: { lease_secret: ids.b, lease_owner: 'w2', lease_until: T0 - 1 + LEASE_MS },
      C: { lease_secret: ids.c, lease_owner: 'w3', lease_until: T0 },
      D: { lease_secret: null, lease_owner: null, lease_until: null },
    })
    const { rows } = await adminQuery<{ n: number }>(
      db.url,
      'SELECT COUNT(*)::int AS n FROM secrets WHERE lease_owner IS NOT NULL OR lease_until IS NOT NULL',
    )
    expect(rows[0]?.n).toBe(0)

    // A (held back by its value in flight) and B (leased) wait; C's lease has run out, D is due
    const now = T0 + 10
    expect((await claim(store, now, 'w4')).map(opened).sort()).toEqual(['c', 'd'])
    expect(await store.nextDueAt()).toBe(T0 - 1 + LEASE_MS)
    // the owners of the moved leases settle them; the owner of the expired one, taken over, is ignored
    await store.settle('w1', now, [{ id: ids.aOld, kind: 'delivered', version: 3 }])
    // w2 settles as a relay of schema 5 still running in a rolling update would: ten arguments
    await adminQuery(db.url, 'SELECT relay_settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [
      'w2',
      now,
      [ids.b],
      ['delivered'],
      [1],
      [null],
      [null],
      [null],
      [null],
      [null],
    ])
    await store.settle('w3', now, [{ id: ids.c, kind: 'dead', error: 'late' }])
    expect(await recordOf(store, aOld)).toMatchObject({ status: 'superseded', rwxVersion: 3 })
    expect(await recordOf(store, b)).toMatchObject({ status: 'delivered' })
    expect(await recordOf(store, c)).toMatchObject({ status: 'queued', lastError: null })
    expect((await claim(store, now + 1, 'w5')).map(opened)).toEqual(['a-new'])
  })
})
