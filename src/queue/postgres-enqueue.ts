// Recording an event in PostgreSQL: dedup by source and event id across replicas, then each secret queued
// or superseded under its name's lock, all in the database function relay_enqueue (postgres-schema.ts).
import type pg from 'pg'
import { statement } from './postgres-pool.js'
import { OLDER_THAN_DELIVERED, refToText, SUPERSEDED_BY_NEWER } from './sqlite-rows.js'
import type { EnqueueResult, NewEvent } from './store.js'

/**
 * Writes `event` in one statement, its own transaction. The UNIQUE (source, event_id) index decides
 * duplicates: a replica inserting the same event at the same moment waits for the first one's commit,
 * then finds the row and writes nothing. The names are locked (in one order) before any secret is
 * placed, so two replicas queueing values of one name decide in turn, each seeing the other's committed
 * value. One round trip instead of a statement per step: each would be a trip to the server and back.
 */
export async function writeEvent(pool: pg.Pool, event: NewEvent): Promise<EnqueueResult> {
  const { secrets, provenance: p } = event
  // The event's provenance goes in the same statement (operations, postgres-operations.ts): recorded
  // only when the event is new, in the same commit.
  const { rows } = await statement<EnqueueResult>(
    pool,
    {
      name: 'relay_enqueue_provenance',
      text: `WITH r AS (SELECT duplicate, queued, superseded
               FROM relay_enqueue($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)),
             p AS (INSERT INTO event_provenance (source, event_id, verifier, key_id, rules)
               SELECT $1, $2, $13, $14, $15 FROM r WHERE NOT r.duplicate AND $13::text IS NOT NULL)
             SELECT duplicate, queued, superseded FROM r`,
    },
    [
      event.source,
      event.eventId,
      event.eventTime,
      event.receivedAt,
      secrets.map((s) => s.vault),
      secrets.map((s) => s.name),
      secrets.map((s) => s.description ?? null),
      secrets.map((s) => s.sealed),
      secrets.map((s) => refToText(s.ref)),
      secrets.map((s) => s.fingerprint),
      OLDER_THAN_DELIVERED,
      SUPERSEDED_BY_NEWER,
      p?.verifier ?? null,
      p?.keyId ?? null,
      p?.rules ?? [],
    ],
  )
  const result = rows[0]
  if (result === undefined) throw new Error('relay_enqueue returned no row')
  return result
}
