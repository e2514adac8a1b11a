// Retention in PostgreSQL: deleting old, finished events and their secrets, several replicas at once,
// never the `names` rows (the never-regress watermark and the per-name lock); erasing expired dead values.
import type pg from 'pg'
import type { Store } from '../store.js'
import { transaction } from './pool.js'

/**
 * What keeps event `e`: a secret still waiting, or one its name has leased past `$1` (a value superseded
 * while in flight keeps its lease, and that lease is what holds the newer value back until the old one
 * is sent).
 */
const UNFINISHED = `SELECT 1 FROM secrets s WHERE s.event = e.id
  AND (s.status = 'queued' OR EXISTS (SELECT 1 FROM names n WHERE n.vault = s.vault AND n.name = s.name
    AND n.lease_secret = s.id AND n.lease_until > $1))`

/**
 * Deletes up to `limit` finished events received before `before`, oldest first, with their secrets, in
 * one transaction; returns how many events.
 *
 * 1. Lock the events `FOR UPDATE SKIP LOCKED`: replicas purging at once take different events and never
 *    wait for each other. Deliveries never lock events, so they never wait for a purge either.
 * 2. Delete the secrets of the locked events that are still finished. This statement takes a fresh
 *    snapshot (READ COMMITTED), after the locks: an admin retry that re-queued a dead secret in between
 *    is seen here and keeps its event. A retry that comes later waits for the event's lock (see
 *    retryEvent), then finds the event gone.
 * 3. Delete the locked events left without secrets.
 */
async function purge(pool: pg.Pool, before: number, limit: number): Promise<number> {
  return transaction(pool, async (db) => {
    const locked = await db.query<{ id: number }>(
      `SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS (${UNFINISHED})
       ORDER BY e.received_at, e.id LIMIT $2
       FOR UPDATE OF e SKIP LOCKED`,
      [before, limit],
    )
    if (locked.rows.length === 0) return 0
    const ids = locked.rows.map((r) => r.id)
    await db.query(
      `DELETE FROM secrets WHERE event IN (
         SELECT e.id FROM events e WHERE e.id = ANY($2::bigint[]) AND NOT EXISTS (${UNFINISHED}))`,
      [before, ids],
    )
    const deleted = await db.query(
      `DELETE FROM events e WHERE e.id = ANY($1::bigint[])
         AND NOT EXISTS (SELECT 1 FROM secrets s WHERE s.event = e.id)`,
      [ids],
    )
    return deleted.rowCount ?? 0
  })
}

/** The retention half of a Store, in PostgreSQL. */
export type PostgresRetention = Pick<Store, 'purge' | 'eraseDeadValues'>

export function createPostgresRetention(pool: pg.Pool): PostgresRetention {
  return {
    purge: (before, limit) => (limit > 0 ? purge(pool, before, Math.floor(limit)) : Promise.resolve(0)),
    eraseDeadValues: async (now) =>
      (await pool.query('DELETE FROM dead_values WHERE until <= $1', [now])).rowCount ?? 0,
  }
}
