// Retention in SQLite: deleting old, finished events and their secrets, never the never-regress watermark.
import type Database from 'better-sqlite3'

/**
 * What keeps an event: a secret still waiting, or one leased past `@before` (a value superseded while in
 * flight keeps its lease, and that lease is what holds the newer value back until the old one is sent).
 */
const UNFINISHED = `SELECT 1 FROM secrets s WHERE s.event = e.id
  AND (s.status = 'queued' OR (s.lease_owner IS NOT NULL AND s.lease_until > @before))`

/** The retention half of a Store, in SQLite. */
export interface SqliteRetention {
  purge(before: number, limit: number): number
}

export function createSqliteRetention(db: Database.Database): SqliteRetention {
  // Oldest first through events_received. The event of the newest secret is kept whatever its age: SQLite
  // gives a new row the largest rowid plus one, so deleting the largest would hand its id out again, and
  // the names watermark orders values of one name by (event time, secret id), which must only grow.
  const finished = db
    .prepare<{ before: number; limit: number }, number>(
      `SELECT e.id FROM events e
       WHERE e.received_at < @before AND NOT EXISTS (${UNFINISHED})
         AND e.id IS NOT (SELECT event FROM secrets WHERE id = (SELECT MAX(id) FROM secrets))
       ORDER BY e.received_at, e.id LIMIT @limit`,
    )
    .pluck()
  const deleteSecrets = db.prepare<[string]>(
    'DELETE FROM secrets WHERE event IN (SELECT value FROM json_each(?))',
  )
  const deleteEvents = db.prepare<[string]>('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))')

  // One connection in one process: nothing can change between the choice and the deletes. The deleted rows
  // hold no value (a finished secret's was erased when it finished, and secure_delete zeroed it), so there
  // is nothing to push out of the WAL.
  const purgeTx = db.transaction((before: number, limit: number) => {
    const ids = JSON.stringify(finished.all({ before, limit }))
    deleteSecrets.run(ids)
    return deleteEvents.run(ids).changes
  })

  return {
    purge(before, limit) {
      return limit > 0 ? purgeTx.immediate(before, Math.floor(limit)) : 0
    },
  }
}
