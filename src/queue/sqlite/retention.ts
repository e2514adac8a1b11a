// Retention in SQLite: deleting old, finished events and their secrets (never the never-regress watermark);
// erasing expired dead values.
import type Database from 'better-sqlite3'

/**
 * What keeps an event: a secret still waiting, or one leased past `@before` (a value superseded while in
 * flight keeps its lease, and that lease is what holds the newer value back until the old one is sent).
 */
const UNFINISHED = `SELECT 1 FROM secrets s WHERE s.event = e.id
  AND (s.status = 'queued' OR (s.lease_owner IS NOT NULL AND s.lease_until > @before))`

/** The retention half of a Store, in SQLite. */
export interface SqliteRetention {
  /** Deletes finished events (see Store.purge): how many, and how many kept dead values went with them. */
  purge(before: number, limit: number): { events: number; erased: number }
  /** Erases the kept values of dead secrets whose time ran out by `now`; returns how many. */
  eraseDeadValues(now: number): number
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
  // A dead secret's value kept for a retry (dead_values) goes with its secret.
  const deleteKept = db.prepare<[string]>(
    `DELETE FROM dead_values WHERE secret IN
       (SELECT id FROM secrets WHERE event IN (SELECT value FROM json_each(?)))`,
  )
  const deleteSecrets = db.prepare<[string]>(
    'DELETE FROM secrets WHERE event IN (SELECT value FROM json_each(?))',
  )
  const deleteEvents = db.prepare<[string]>('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))')

  // One connection in one process: nothing can change between the choice and the deletes. The secrets
  // hold no value (a finished secret's was erased when it finished), but a dead one's kept value may go
  // with it: the caller then pushes it out of the WAL.
  const purgeTx = db.transaction((before: number, limit: number) => {
    const ids = JSON.stringify(finished.all({ before, limit }))
    const erased = deleteKept.run(ids).changes
    deleteSecrets.run(ids)
    return { events: deleteEvents.run(ids).changes, erased }
  })

  const eraseDead = db.prepare<[number]>('DELETE FROM dead_values WHERE until <= ?')

  return {
    eraseDeadValues: (now) => eraseDead.run(now).changes,
    purge(before, limit) {
      return limit > 0 ? purgeTx.immediate(before, Math.floor(limit)) : { events: 0, erased: 0 }
    },
  }
}
