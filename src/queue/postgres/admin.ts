// The admin side of the PostgreSQL queue: counts, listing and showing events (never a value), retrying,
// discarding; showing a name's never-regress state and resetting it.

import type pg from 'pg'
import { type EventRow, type StatusCount, toEventRecords } from '../event-rows.js'
import { RECORD_COLUMNS, type RecordRow, toRecord } from '../rows.js'
import {
  type EventRecord,
  FENCE_OWNER,
  type ListQuery,
  type NameReset,
  type NameState,
  quietName,
  SECRET_STATUSES,
  type SecretStatus,
} from '../store.js'
import { lockNames, type NameKey, place, supersedeOthers } from './names.js'
import { type Queryable, transaction } from './pool.js'

/** The admin half of a Store, in PostgreSQL. */
export interface PostgresAdmin {
  counts(): Promise<Record<SecretStatus, number>>
  listEvents(query: ListQuery): Promise<EventRecord[]>
  getEvent(source: string, eventId: string): Promise<EventRecord | null>
  retryEvent(source: string, eventId: string, now: number): Promise<number>
  discardEvent(source: string, eventId: string, now: number): Promise<number>
  getName(vault: string, name: string, now: number): Promise<NameState | null>
  resetName(
    vault: string,
    name: string,
    now: number,
    options: { liftFence: boolean },
  ): Promise<NameReset | null>
}

interface NameRow {
  delivered_event_time: number | null
  delivered_secret_id: number | null
  rwx_version: number | null
  updated_at: number
  source: string | null
  event_id: string | null
  lease_owner: string | null
  lease_until: number | null
  unconfirmed_since: number | null
  queued: number
  secrets: boolean
}

// A fence is the name's lease held by FENCE_OWNER (migration 7); the delivered secret's event may be purged
// by retention: the watermark outlives it.
const NAME_STATE = `SELECT n.delivered_event_time, n.delivered_secret_id, n.rwx_version, n.updated_at,
    e.source, e.event_id, n.lease_owner, n.lease_until, n.unconfirmed_since,
    (SELECT COUNT(*) FROM secrets q WHERE q.vault = n.vault AND q.name = n.name AND q.status = 'queued') AS queued,
    EXISTS (SELECT 1 FROM secrets x WHERE x.vault = n.vault AND x.name = n.name) AS secrets
  FROM names n LEFT JOIN secrets s ON s.id = n.delivered_secret_id LEFT JOIN events e ON e.id = s.event
  WHERE n.vault = $1 AND n.name = $2`

async function nameState(db: Queryable, vault: string, name: string, now: number): Promise<NameState | null> {
  const { rows } = await db.query<NameRow>(NAME_STATE, [vault, name])
  const r = rows[0]
  // A names row is made when a name is first queued: one with nothing left to show is unknown, as in SQLite.
  if (r === undefined) return null
  const fenced = r.lease_owner === FENCE_OWNER && r.lease_until !== null && r.lease_until > now
  const leased = r.lease_owner !== null && r.lease_owner !== FENCE_OWNER && (r.lease_until ?? 0) > now
  if (r.delivered_event_time === null && !r.secrets && !fenced && r.unconfirmed_since === null) return null
  return {
    vault,
    name,
    delivered:
      r.delivered_event_time === null || r.delivered_secret_id === null
        ? null
        : {
            eventTime: r.delivered_event_time,
            secretId: r.delivered_secret_id,
            source: r.source,
            eventId: r.event_id,
            rwxVersion: r.rwx_version,
            updatedAt: r.updated_at,
          },
    queued: r.queued,
    inFlight: leased,
    fencedUntil: fenced ? r.lease_until : null,
    unconfirmed: r.unconfirmed_since !== null,
    unconfirmedSince: r.unconfirmed_since,
  }
}

const FIND_EVENT =
  'SELECT id, source, event_id, event_time, received_at FROM events WHERE source = $1 AND event_id = $2'

async function findEvent(db: Queryable, source: string, eventId: string): Promise<EventRow | undefined> {
  const { rows } = await db.query<EventRow>(FIND_EVENT, [source, eventId])
  return rows[0]
}

/**
 * Finds an event and keeps it until the transaction ends: a purge (retention.ts) skips a locked
 * event, and one already under way holds it until it is gone, so a secret re-queued here is never deleted.
 */
async function findAndHoldEvent(
  db: Queryable,
  source: string,
  eventId: string,
): Promise<EventRow | undefined> {
  const { rows } = await db.query<EventRow>(`${FIND_EVENT} FOR KEY SHARE`, [source, eventId])
  return rows[0]
}

/** Locks the names of an event's secrets (the lock order every writer keeps) before changing them. */
async function lockEventNames(db: Queryable, event: number): Promise<void> {
  const { rows } = await db.query<NameKey>('SELECT DISTINCT vault, name FROM secrets WHERE event = $1', [
    event,
  ])
  await lockNames(db, rows)
}

export function createPostgresAdmin(pool: pg.Pool): PostgresAdmin {
  async function toEvents(rows: EventRow[]): Promise<EventRecord[]> {
    if (rows.length === 0) return []
    const found = await pool.query<StatusCount>(
      `SELECT event, status, COUNT(*) AS n FROM secrets WHERE event = ANY($1::bigint[])
       GROUP BY event, status`,
      [rows.map((r) => r.id)],
    )
    return toEventRecords(rows, found.rows)
  }

  return {
    async counts() {
      const counts = Object.fromEntries(SECRET_STATUSES.map((s) => [s, 0])) as Record<SecretStatus, number>
      const { rows } = await pool.query<{ status: SecretStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM secrets GROUP BY status',
      )
      for (const { status, n } of rows) counts[status] = n
      return counts
    },

    async listEvents(query) {
      const where: string[] = []
      const params: unknown[] = [Math.max(0, Math.floor(query.limit))]
      if (query.source !== undefined) {
        params.push(query.source)
        where.push(`e.source = $${params.length}`)
      }
      if (query.before !== undefined) {
        params.push(query.before)
        where.push(`e.received_at < $${params.length}`)
      }
      if (query.status !== undefined) {
        params.push(query.status)
        where.push(`EXISTS (SELECT 1 FROM secrets s WHERE s.event = e.id AND s.status = $${params.length})`)
      }
      const { rows } = await pool.query<EventRow>(
        'SELECT e.id, e.source, e.event_id, e.event_time, e.received_at FROM events e' +
          (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
          ' ORDER BY e.received_at DESC, e.id DESC LIMIT $1',
        params,
      )
      return toEvents(rows)
    },

    async getEvent(source, eventId) {
      const row = await findEvent(pool, source, eventId)
      if (row === undefined) return null
      const [[event], secrets] = await Promise.all([
        toEvents([row]),
        pool.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM secrets s WHERE s.event = $1 ORDER BY s.id`, [
          row.id,
        ]),
      ])
      return { ...event!, secrets: secrets.rows.map(toRecord) }
    },

    retryEvent(source, eventId, now) {
      return transaction(pool, async (db) => {
        const row = await findAndHoldEvent(db, source, eventId)
        if (row === undefined) return 0
        await lockEventNames(db, row.id)
        const retried = await db.query(
          `UPDATE secrets SET next_attempt_at = $1, attempts = 0, updated_at = $1
           WHERE event = $2 AND status = 'queued'`,
          [now, row.id],
        )
        let queued = retried.rowCount ?? 0
        // Dead secrets that can be delivered again: references, and values kept (dead_values) still in time.
        const dead = await db.query<NameKey & { id: number; event_time: number }>(
          `SELECT id, vault, name, event_time FROM secrets s
           WHERE event = $1 AND status = 'dead' AND (ref IS NOT NULL
             OR EXISTS (SELECT 1 FROM dead_values v WHERE v.secret = s.id AND v.until > $2)) ORDER BY id`,
          [row.id, now],
        )
        // A dead secret (a reference, or a kept value) comes back only if that cannot regress its name.
        for (const d of dead.rows) {
          const placement = await place(db, d, d.event_time, d.id)
          if (placement.status === 'superseded') {
            await db.query(
              `UPDATE secrets SET status = 'superseded', last_error = $1, updated_at = $2 WHERE id = $3`,
              [placement.error, now, d.id],
            )
            await db.query('DELETE FROM dead_values WHERE secret = $1', [d.id])
            continue
          }
          // The kept value goes back into the row, which is queued again in the same statement.
          await db.query(
            `UPDATE secrets SET status = 'queued', attempts = 0, solo = FALSE, next_attempt_at = $1, updated_at = $1,
               sealed = CASE WHEN ref IS NULL THEN (SELECT sealed FROM dead_values WHERE secret = $2) ELSE sealed END
             WHERE id = $2`,
            [now, d.id],
          )
          await db.query('DELETE FROM dead_values WHERE secret = $1', [d.id])
          await supersedeOthers(db, d, d.id, now)
          queued++
        }
        return queued
      })
    },

    discardEvent(source, eventId, now) {
      return transaction(pool, async (db) => {
        const row = await findEvent(db, source, eventId)
        if (row === undefined) return 0
        await lockEventNames(db, row.id)
        // Queued and dead secrets end discarded; delivered and superseded ones keep what they are.
        const discarded = await db.query<{ id: number }>(
          `UPDATE secrets SET status = 'discarded', sealed = NULL, next_attempt_at = NULL, updated_at = $1
           WHERE event = $2 AND status IN ('queued', 'dead') RETURNING id`,
          [now, row.id],
        )
        // A dead value kept for a retry (delivery.keepDeadValuesSeconds) goes with its discarded secret.
        if (discarded.rows.length > 0)
          await db.query('DELETE FROM dead_values WHERE secret = ANY($1::bigint[])', [
            discarded.rows.map((r) => r.id),
          ])
        return discarded.rows.length
      })
    },

    getName: (vault, name, now) => nameState(pool, vault, name, now),

    resetName(vault, name, now, { liftFence }) {
      return transaction(pool, async (db) => {
        await lockNames(db, [{ vault, name }])
        const before = await nameState(db, vault, name, now)
        if (before === null) return null
        if (before.delivered !== null) {
          await db.query(
            `UPDATE names SET delivered_event_time = NULL, delivered_secret_id = NULL, rwx_version = NULL,
               updated_at = $3 WHERE vault = $1 AND name = $2`,
            [vault, name, now],
          )
        }
        // Ends the hold only (never a worker's lease); unconfirmed_since stays: the next write is read back.
        const lifted = liftFence
          ? await db.query(
              `UPDATE names SET lease_secret = NULL, lease_owner = NULL, lease_until = NULL
               WHERE vault = $1 AND name = $2 AND lease_owner = $3 AND lease_until > $4`,
              [vault, name, FENCE_OWNER, now],
            )
          : undefined
        const state = await nameState(db, vault, name, now)
        return {
          previous: before.delivered,
          fenceLifted: (lifted?.rowCount ?? 0) > 0,
          state: state ?? quietName(vault, name),
        }
      })
    },
  }
}
