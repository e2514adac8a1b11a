// Recording an event in PostgreSQL: dedup by source and event id across replicas, then each secret queued
// or superseded under its name's lock.
import { lockNames, place, supersedeOthers } from './postgres-names.js'
import type { Queryable } from './postgres-pool.js'
import { refToText } from './sqlite-rows.js'
import type { EnqueueResult, NewEvent } from './store.js'

/**
 * Writes `event` in the caller's transaction. The UNIQUE (source, event_id) index decides duplicates:
 * a replica inserting the same event at the same moment waits for the first one's commit, then finds
 * the row and writes nothing. The names are locked before any secret is placed, so two replicas
 * queueing values of one name decide in turn, each seeing the other's committed value.
 */
export async function writeEvent(db: Queryable, event: NewEvent): Promise<EnqueueResult> {
  const inserted = await db.query<{ id: number }>(
    `INSERT INTO events (source, event_id, event_time, received_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (source, event_id) DO NOTHING RETURNING id`,
    [event.source, event.eventId, event.eventTime, event.receivedAt],
  )
  const eventRow = inserted.rows[0]
  if (eventRow === undefined) return { duplicate: true, queued: 0, superseded: 0 }
  const result: EnqueueResult = { duplicate: false, queued: 0, superseded: 0 }
  if (event.secrets.length === 0) return result
  const now = event.receivedAt
  await lockNames(db, event.secrets, { now })
  for (const s of event.secrets) {
    const placement = await place(db, s, event.eventTime)
    const queued = placement.status === 'queued'
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO secrets (event, vault, name, description, sealed, ref, fingerprint, event_time, status,
         next_attempt_at, last_error, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id`,
      [
        eventRow.id,
        s.vault,
        s.name,
        s.description ?? null,
        // a superseded value is never written at all
        queued ? s.sealed : null,
        refToText(s.ref),
        s.fingerprint,
        event.eventTime,
        placement.status,
        queued ? now : null,
        queued ? null : placement.error,
        now,
      ],
    )
    if (queued) {
      await supersedeOthers(db, s, rows[0]!.id, now)
      result.queued++
    } else {
      result.superseded++
    }
  }
  return result
}
