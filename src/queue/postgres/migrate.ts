// Migrating the PostgreSQL queue: the versions of migrations/index.ts, applied under an advisory lock so
// replicas can start together.
import type pg from 'pg'
import { MIGRATIONS } from './migrations/index.js'
import { transaction } from './pool.js'

/** The advisory lock key migrations run under (any fixed number; "vrelay" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x7672_656c_6179

/** How long migrating (or waiting for another replica's migration) may take. */
const MIGRATION_TIMEOUT_MS = 5 * 60_000

/** A statement allowed the migration timeout on the client side too (pg takes `query_timeout` per query). */
function long(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig
}

/**
 * Brings the database to the latest schema version in one transaction, holding a transaction-level
 * advisory lock: replicas starting together apply each version once, and the others wait, then find it
 * done. Throws when the database is newer than this relay. Returns the versions it applied.
 */
export async function migrate(pool: pg.Pool): Promise<number> {
  return transaction(pool, async (client) => {
    // another replica may hold the lock while it migrates: wait longer than a normal statement
    await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`)
    await client.query(long('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]))
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0)::int AS version FROM schema_migrations',
    )
    const current = rows[0]?.version ?? 0
    if (current > MIGRATIONS.length) {
      throw new Error(
        `queue database schema version ${current} is newer than this relay knows (${MIGRATIONS.length})`,
      )
    }
    for (const { version, sql } of MIGRATIONS.slice(current)) {
      await client.query(long(sql))
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version])
    }
    return MIGRATIONS.length - current
  })
}
