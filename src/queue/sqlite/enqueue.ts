// Recording events in SQLite: the durable dedup by source and event id, and the never-regress rules that
// decide whether an arriving (or re-queued) secret waits for delivery or is superseded at once.
import type Database from 'better-sqlite3'
import { OLDER_THAN_DELIVERED, type Placement, refToText, SUPERSEDED_BY_NEWER } from '../rows.js'
import type { EnqueueResult, NewEvent } from '../store.js'

/** The arrival id of a secret not inserted yet: it arrives after every row already there. */
const NOT_YET_INSERTED = Number.MAX_SAFE_INTEGER

/** The never-regress rules, ordering one name's values by (event time, arrival id). */
export interface NeverRegress {
  /** Where a secret of `vault`/`name` at `eventTime` goes; `id` is its arrival id, if it has one. */
  place(vault: string, name: string, eventTime: number, id?: number): Placement
  /** Supersedes and erases every other queued value of the name (call once `id` is queued). */
  supersedeOthers(vault: string, name: string, id: number, now: number): number
}

export function createNeverRegress(db: Database.Database): NeverRegress {
  const olderThanDelivered = db
    .prepare<[string, string, number, number, number]>(
      `SELECT 1 FROM names WHERE vault = ? AND name = ?
         AND (delivered_event_time > ? OR (delivered_event_time = ? AND delivered_secret_id > ?))`,
    )
    .pluck()
  const newerQueued = db
    .prepare<[string, string, number, number, number]>(
      `SELECT 1 FROM secrets WHERE vault = ? AND name = ? AND status = 'queued'
         AND (event_time > ? OR (event_time = ? AND id > ?)) LIMIT 1`,
    )
    .pluck()
  // The lease stays: a worker may be sending the old value right now, and while its lease lives the
  // newer value cannot be claimed, so the newest is always the last one written.
  const supersede = db.prepare<[string, number, string, string, number]>(
    `UPDATE secrets SET status = 'superseded', sealed = NULL, next_attempt_at = NULL, last_error = ?,
       updated_at = ? WHERE vault = ? AND name = ? AND status = 'queued' AND id <> ?`,
  )
  return {
    place(vault, name, eventTime, id = NOT_YET_INSERTED) {
      if (olderThanDelivered.get(vault, name, eventTime, eventTime, id) !== undefined) {
        return { status: 'superseded', error: OLDER_THAN_DELIVERED }
      }
      if (newerQueued.get(vault, name, eventTime, eventTime, id) !== undefined) {
        return { status: 'superseded', error: SUPERSEDED_BY_NEWER }
      }
      return { status: 'queued' }
    },
    supersedeOthers(vault, name, id, now) {
      return supersede.run(SUPERSEDED_BY_NEWER, now, vault, name, id).changes
    },
  }
}

/** Records events in the caller's transaction; `erased` counts queued values superseded (and erased). */
export interface EventWriter {
  write(event: NewEvent): EnqueueResult
  readonly erased: number
}

export function createEventWriter(db: Database.Database, rules: NeverRegress): EventWriter {
  const insertEvent = db.prepare<[string, string, number, number]>(
    `INSERT INTO events (source, event_id, event_time, received_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (source, event_id) DO NOTHING`,
  )
  // Positional parameters: this runs for every queued secret, and binding by name costs more.
  const insertSecret = db.prepare<
    [
      event: number | bigint,
      vault: string,
      name: string,
      description: string | null,
      sealed: Buffer | null,
      ref: string | null,
      fingerprint: string | null,
      eventTime: number,
      status: string,
      nextAttemptAt: number | null,
      lastError: string | null,
      createdAt: number,
      updatedAt: number,
    ]
  >(
    `INSERT INTO secrets (event, vault, name, description, sealed, ref, fingerprint, event_time, status,
       next_attempt_at, last_error, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  let erased = 0
  return {
    write(event) {
      const inserted = insertEvent.run(event.source, event.eventId, event.eventTime, event.receivedAt)
      if (inserted.changes === 0) return { duplicate: true, queued: 0, superseded: 0 }
      const result: EnqueueResult = { duplicate: false, queued: 0, superseded: 0 }
      for (const s of event.secrets) {
        const placement = rules.place(s.vault, s.name, event.eventTime)
        const queued = placement.status === 'queued'
        const { lastInsertRowid } = insertSecret.run(
          inserted.lastInsertRowid,
          s.vault,
          s.name,
          s.description ?? null,
          // a superseded value is never written at all
          queued ? s.sealed : null,
          refToText(s.ref),
          s.fingerprint,
          event.eventTime,
          placement.status,
          queued ? event.receivedAt : null,
          queued ? null : placement.error,
          event.receivedAt,
          event.receivedAt,
        )
        if (queued) {
          erased += rules.supersedeOthers(s.vault, s.name, Number(lastInsertRowid), event.receivedAt)
          result.queued++
        } else {
          result.superseded++
        }
      }
      return result
    },
    get erased() {
      return erased
    },
  }
}
