// Warm connections: a PostgreSQL store opens its whole pool at start and runs the hot statements on each
// connection before it serves, and does so again for a connection that replaces a failed one.
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createPostgresStore } from '../../../src/queue/postgres/store.js'
import type { Store } from '../../../src/queue/store.js'
import { adminQuery, createTestDatabase, type TestDatabase } from '../../support/postgres.js'
import { until } from '../../support/until.js'

const adminUrl = inject('pgAdminUrl')
let db: TestDatabase | undefined
let store: Store | undefined

afterEach(async () => {
  await store?.close().catch(() => {})
  await db?.drop()
})

/** A fresh database whose sessions count their function calls (pg_stat_user_functions). */
async function countingDb(): Promise<TestDatabase> {
  db = await createTestDatabase(adminUrl)
  await adminQuery(adminUrl, `ALTER DATABASE ${db.name} SET track_functions = 'all'`)
  return db
}

/** Calls of each relay function so far, by name (sessions report theirs within a second or so). */
async function calls(url: string): Promise<Record<string, number>> {
  const { rows } = await adminQuery<{ funcname: string; calls: string }>(
    url,
    `SELECT funcname, calls FROM pg_stat_user_functions WHERE funcname LIKE 'relay\\_%'`,
  )
  return Object.fromEntries(rows.map((r) => [r.funcname, Number(r.calls)]))
}

/** The relay's sessions on the database. */
async function sessions(url: string, name: string): Promise<number> {
  const { rows } = await adminQuery<{ n: number }>(
    url,
    `SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'vault-relay'`,
    [name],
  )
  return rows[0]?.n ?? 0
}

describe('warm connections', () => {
  // A session reports its function calls when it ends (or after 10 s idle): each test closes its store
  // before counting.
  it('opens every connection of the pool at start and runs the hot functions once on each', async () => {
    const { url, name } = await countingDb()
    store = await createPostgresStore({ url, poolSize: 3 })
    expect(await sessions(url, name)).toBe(3)
    await store.close()
    await until(async () => (await calls(url))['relay_settle'] === 3, 'three warm-ups reported', 5_000)
    expect(await calls(url)).toEqual({ relay_enqueue_many: 3, relay_claim: 3, relay_settle: 3 })
    // the idle calls wrote nothing
    for (const table of ['events', 'secrets', 'names', 'attempts']) {
      const { rows } = await adminQuery<{ n: number }>(url, `SELECT COUNT(*)::int AS n FROM ${table}`)
      expect(rows[0]?.n, table).toBe(0)
    }
  })

  it('warms a connection that replaces a failed one before it serves', async () => {
    const { url, name } = await countingDb()
    store = await createPostgresStore({ url, poolSize: 1 })
    await adminQuery(
      adminUrl,
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [name, 'vault-relay'],
    )
    const s = store
    await until(
      () =>
        s.ping().then(
          () => true,
          () => false,
        ),
      'a new connection',
      10_000,
    )
    expect(await sessions(url, name)).toBe(1)
    await store.close()
    // the first connection's warm-up and the new one's (the ping made no relay call)
    await until(async () => (await calls(url))['relay_claim'] === 2, 'two warm-ups reported', 5_000)
  })
})
