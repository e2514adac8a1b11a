// Recording events in PostgreSQL: dedup by source and event id across replicas, then each secret queued
// or superseded under its name's lock, concurrent events (with their provenance) together in
// relay_enqueue_many (migration 4).
import type pg from 'pg'
import { RelayError } from '../../errors.js'
import { createGroupCommit, ItemFailure } from '../group-commit.js'
import { OLDER_THAN_DELIVERED, refToText, SUPERSEDED_BY_NEWER } from '../rows.js'
import type { EnqueueResult, NewEvent } from '../store.js'
import { isConnectionError, statement } from './pool.js'

/** Most events one statement records: a burst bigger than this goes in several, one after another. */
export const MAX_EVENTS_PER_STATEMENT = 256

/** How many statements of events run at once (each takes a connection of the pool). */
const STATEMENTS_IN_FLIGHT = 2

/**
 * Writes `events` in one statement, its own transaction: one result per event, in order. The UNIQUE
 * (source, event_id) index decides duplicates: a replica inserting the same event at the same moment
 * waits for the first one's commit, then finds the row and writes nothing. The names are locked (in one
 * order) before any secret is placed, so two replicas queueing values of one name decide in turn, each
 * seeing the other's committed value. One round trip, not a statement per step and event.
 */
export async function writeEvents(pool: pg.Pool, events: readonly NewEvent[]): Promise<EnqueueResult[]> {
  const { rows } = await statement<EnqueueResult>(pool, ENQUEUE, enqueueValues(events))
  if (rows.length !== events.length) {
    throw new Error(`relay_enqueue_many returned ${rows.length} rows for ${events.length} events`)
  }
  return rows
}

/**
 * The statement of a group of events; prepared once per connection (warm-up.ts runs it on each
 * at open). Each new event's provenance (operations.ts, migration 5) goes in the same statement
 * and commit; a duplicate's is not written again.
 */
export const ENQUEUE = {
  name: 'relay_enqueue_many_provenance',
  text: `WITH r AS (
           SELECT t.duplicate, t.queued, t.superseded, t.ord
           FROM relay_enqueue_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             WITH ORDINALITY AS t(duplicate, queued, superseded, ord)
         ), p AS (
           INSERT INTO event_provenance (source, event_id, verifier, key_id, rules)
             SELECT ($1::text[])[r.ord], ($2::text[])[r.ord], ($14::text[])[r.ord], ($15::text[])[r.ord],
               ARRAY(SELECT jsonb_array_elements_text(($16::text[])[r.ord]::jsonb))
             FROM r WHERE NOT r.duplicate AND ($14::text[])[r.ord] IS NOT NULL
             ON CONFLICT DO NOTHING
         )
         SELECT duplicate, queued, superseded FROM r ORDER BY r.ord`,
}

export function enqueueValues(events: readonly NewEvent[]): unknown[] {
  const secrets = events.flatMap((e, i) => e.secrets.map((s) => ({ s, event: i + 1 })))
  return [
    events.map((e) => e.source),
    events.map((e) => e.eventId),
    events.map((e) => e.eventTime),
    events.map((e) => e.receivedAt),
    secrets.map((x) => x.event),
    secrets.map((x) => x.s.vault),
    secrets.map((x) => x.s.name),
    secrets.map((x) => x.s.description ?? null),
    secrets.map((x) => x.s.sealed),
    secrets.map((x) => refToText(x.s.ref)),
    secrets.map((x) => x.s.fingerprint),
    OLDER_THAN_DELIVERED,
    SUPERSEDED_BY_NEWER,
    events.map((e) => e.provenance?.verifier ?? null),
    events.map((e) => e.provenance?.keyId ?? null),
    events.map((e) => JSON.stringify(e.provenance?.rules ?? [])),
  ]
}

/** What a caller gets when its event was not committed within `enqueueTimeoutMs`. */
export function notInTime(timeoutMs: number): RelayError {
  return new RelayError('ERR_STORE_UNAVAILABLE', 'the PostgreSQL queue store did not answer in time', {
    retryAfter: 5,
    cause: new Error(`no commit within ${timeoutMs} ms`),
  })
}

/**
 * Group commit: events enqueued while a statement of events runs wait and go together in the next one.
 * When a statement fails for anything but the connection (an event the database refuses), each event
 * of it is written again on its own, one after another, so one bad event fails only its own request.
 *
 * A caller waits `timeoutMs` at most (a database that holds connections open but answers nothing, a
 * frozen VM say, would otherwise hold webhook callers for as long as it lasts; the statement and
 * connection timeouts are longer, and add up across the batches ahead). It then gets 503 with
 * Retry-After, while its event may still be committed by a statement already sent. That loses nothing
 * and writes nothing twice: the provider sends the event again, and the UNIQUE (source, event_id) index
 * records it once (the resend finds the late commit and is answered 200 duplicate, or, when the
 * statement never landed, records it then). An event not sent yet when its time is up is dropped.
 */
export function createPostgresEnqueue(
  pool: pg.Pool,
  toError: (err: unknown) => unknown,
  timeoutMs: number,
): (event: NewEvent) => Promise<EnqueueResult> {
  const group = createGroupCommit<NewEvent, EnqueueResult>(
    async (events) => {
      try {
        return await writeEvents(pool, events)
      } catch (err) {
        if (events.length === 1 || isConnectionError(err)) throw err
      }
      const results: Array<EnqueueResult | ItemFailure> = []
      for (const event of events) {
        try {
          results.push(...(await writeEvents(pool, [event])))
        } catch (err) {
          results.push(new ItemFailure(err))
        }
      }
      return results
    },
    toError,
    {
      maxInFlight: STATEMENTS_IN_FLIGHT,
      maxItems: MAX_EVENTS_PER_STATEMENT,
      deadline: { ms: timeoutMs, error: () => notInTime(timeoutMs) },
    },
  )
  return (event) => group.submit(event)
}
