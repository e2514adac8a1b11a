// The admin side of the SQLite queue: listing and showing events (never a value), retrying, discarding;
// showing a name's never-regress state and resetting it.
import type Database from 'better-sqlite3'
import { type EventRow, type StatusCount, toEventRecords } from '../event-rows.js'
import { RECORD_COLUMNS, type RecordRow, toRecord } from '../rows.js'
import {
  type DeliveredMark,
  type EventRecord,
  type ListQuery,
  type NameReset,
  type NameState,
  quietName,
} from '../store.js'
import type { NeverRegress } from './enqueue.js'

/** The admin half of a Store, in SQLite. */
export interface SqliteAdmin {
  listEvents(query: ListQuery): EventRecord[]
  getEvent(source: string, eventId: string): EventRecord | null
  retryEvent(source: string, eventId: string, now: number): number
  discardEvent(source: string, eventId: string, now: number): number
  getName(vault: string, name: string, now: number): NameState | null
  resetName(vault: string, name: string, now: number, options: { liftFence: boolean }): NameReset | null
}

interface MarkRow {
  delivered_event_time: number
  delivered_secret_id: number
  rwx_version: number | null
  updated_at: number
  source: string | null
  event_id: string | null
}

const toMark = (r: MarkRow): DeliveredMark => ({
  eventTime: r.delivered_event_time,
  secretId: r.delivered_secret_id,
  source: r.source,
  eventId: r.event_id,
  rwxVersion: r.rwx_version,
  updatedAt: r.updated_at,
})

/** `onErased` is told when values were erased, so the store can push them out of the WAL. */
export function createSqliteAdmin(
  db: Database.Database,
  rules: NeverRegress,
  onErased: () => void,
): SqliteAdmin {
  const findEvent = db.prepare<[string, string], EventRow>(
    'SELECT id, source, event_id, event_time, received_at FROM events WHERE source = ? AND event_id = ?',
  )
  const countsOf = db.prepare<[string], StatusCount>(
    `SELECT event, status, COUNT(*) AS n FROM secrets WHERE event IN (SELECT value FROM json_each(?))
       GROUP BY event, status`,
  )
  const secretsOf = db.prepare<[number], RecordRow>(
    `SELECT ${RECORD_COLUMNS} FROM secrets s WHERE s.event = ? ORDER BY s.id`,
  )
  const retryQueued = db.prepare<[number, number, number]>(
    `UPDATE secrets SET next_attempt_at = ?, attempts = 0, updated_at = ? WHERE event = ? AND status = 'queued'`,
  )
  // Dead secrets that can be delivered again: references, and values kept (dead_values) still in time.
  const deadRefs = db.prepare<
    [number, number],
    { id: number; vault: string; name: string; event_time: number }
  >(
    `SELECT id, vault, name, event_time FROM secrets s
       WHERE event = ? AND status = 'dead' AND (ref IS NOT NULL
         OR EXISTS (SELECT 1 FROM dead_values v WHERE v.secret = s.id AND v.until > ?)) ORDER BY id`,
  )
  // The kept value goes back into the queued row (status is queued first: sealed is refused otherwise).
  const restore = db.prepare<[number, number]>(
    `UPDATE secrets SET sealed = (SELECT sealed FROM dead_values WHERE secret = ?) WHERE id = ? AND ref IS NULL`,
  )
  const forget = db.prepare<[number]>('DELETE FROM dead_values WHERE secret = ?')
  const requeue = db.prepare<[number, number, number]>(
    `UPDATE secrets SET status = 'queued', attempts = 0, solo = 0, next_attempt_at = ?, updated_at = ?
       WHERE id = ?`,
  )
  const supersede = db.prepare<[string, number, number]>(
    `UPDATE secrets SET status = 'superseded', last_error = ?, updated_at = ? WHERE id = ?`,
  )
  // Queued and dead secrets end discarded; delivered and superseded ones keep what they are.
  const discard = db.prepare<[number, number]>(
    `UPDATE secrets SET status = 'discarded', sealed = NULL, next_attempt_at = NULL, updated_at = ?
       WHERE event = ? AND status IN ('queued', 'dead')`,
  )
  // A dead value kept for a retry (delivery.keepDeadValuesSeconds) goes with its discarded secret.
  const forgetDiscarded = db.prepare<[number]>(
    `DELETE FROM dead_values WHERE secret IN (SELECT id FROM secrets WHERE event = ? AND status = 'discarded')`,
  )

  // The delivered secret's event may be purged by retention: the watermark outlives it.
  const markOf = db.prepare<[string, string], MarkRow>(
    `SELECT n.delivered_event_time, n.delivered_secret_id, n.rwx_version, n.updated_at, e.source, e.event_id
     FROM names n LEFT JOIN secrets s ON s.id = n.delivered_secret_id LEFT JOIN events e ON e.id = s.event
     WHERE n.vault = ? AND n.name = ?`,
  )
  const workOf = db.prepare<
    { vault: string; name: string; now: number },
    { secrets: number; queued: number | null; in_flight: number | null }
  >(
    `SELECT COUNT(*) AS secrets, SUM(status = 'queued') AS queued,
       MAX(lease_owner IS NOT NULL AND lease_until > @now) AS in_flight
     FROM secrets WHERE vault = @vault AND name = @name`,
  )
  const fenceOf = db.prepare<[string, string], { until: number; since: number }>(
    'SELECT until, since FROM fences WHERE vault = ? AND name = ?',
  )
  const clearMark = db.prepare<[string, string]>('DELETE FROM names WHERE vault = ? AND name = ?')
  // Ends the hold but keeps the row: the name's next write is still read back to confirm it.
  const liftFence = db.prepare<{ vault: string; name: string; now: number }>(
    'UPDATE fences SET until = @now WHERE vault = @vault AND name = @name AND until > @now',
  )

  function nameState(vault: string, name: string, now: number): NameState | null {
    const mark = markOf.get(vault, name)
    const work = workOf.get({ vault, name, now })
    const fence = fenceOf.get(vault, name)
    if (mark === undefined && fence === undefined && (work?.secrets ?? 0) === 0) return null
    return {
      vault,
      name,
      delivered: mark === undefined ? null : toMark(mark),
      queued: work?.queued ?? 0,
      inFlight: work?.in_flight === 1,
      fencedUntil: fence !== undefined && fence.until > now ? fence.until : null,
      unconfirmed: fence !== undefined,
      unconfirmedSince: fence?.since ?? null,
    }
  }

  const resetTx = db.transaction(
    (vault: string, name: string, now: number, lift: boolean): NameReset | null => {
      const before = nameState(vault, name, now)
      if (before === null) return null
      if (before.delivered !== null) clearMark.run(vault, name)
      const fenceLifted = lift && liftFence.run({ vault, name, now }).changes > 0
      return {
        previous: before.delivered,
        fenceLifted,
        state: nameState(vault, name, now) ?? quietName(vault, name),
      }
    },
  )

  function toEvents(rows: EventRow[]): EventRecord[] {
    return toEventRecords(rows, countsOf.all(JSON.stringify(rows.map((r) => r.id))))
  }

  return {
    listEvents(query) {
      const where: string[] = []
      const params: Record<string, unknown> = { limit: Math.max(0, Math.floor(query.limit)) }
      if (query.source !== undefined) {
        where.push('e.source = @source')
        params['source'] = query.source
      }
      if (query.before !== undefined) {
        where.push('e.received_at < @before')
        params['before'] = query.before
      }
      if (query.status !== undefined) {
        where.push('EXISTS (SELECT 1 FROM secrets s WHERE s.event = e.id AND s.status = @status)')
        params['status'] = query.status
      }
      const sql =
        'SELECT e.id, e.source, e.event_id, e.event_time, e.received_at FROM events e' +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY e.received_at DESC, e.id DESC LIMIT @limit'
      return toEvents(db.prepare<[Record<string, unknown>], EventRow>(sql).all(params))
    },

    getEvent(source, eventId) {
      const row = findEvent.get(source, eventId)
      if (row === undefined) return null
      const [event] = toEvents([row])
      return { ...event!, secrets: secretsOf.all(row.id).map(toRecord) }
    },

    retryEvent(source, eventId, now) {
      const { queued, erased } = db
        .transaction(() => {
          const row = findEvent.get(source, eventId)
          if (row === undefined) return { queued: 0, erased: 0 }
          let queued = retryQueued.run(now, now, row.id).changes
          let erased = 0
          // A dead secret (a reference, or a kept value) comes back only if that cannot regress its name.
          for (const dead of deadRefs.all(row.id, now)) {
            const placement = rules.place(dead.vault, dead.name, dead.event_time, dead.id)
            if (placement.status === 'superseded') {
              supersede.run(placement.error, now, dead.id)
              if (forget.run(dead.id).changes > 0) erased++
              continue
            }
            requeue.run(now, now, dead.id)
            restore.run(dead.id, dead.id)
            forget.run(dead.id)
            erased += rules.supersedeOthers(dead.vault, dead.name, dead.id, now)
            queued++
          }
          return { queued, erased }
        })
        .immediate()
      if (erased > 0) onErased()
      return queued
    },

    discardEvent(source, eventId, now) {
      const discarded = db
        .transaction(() => {
          const row = findEvent.get(source, eventId)
          if (row === undefined) return 0
          const n = discard.run(now, row.id).changes
          if (n > 0) forgetDiscarded.run(row.id)
          return n
        })
        .immediate()
      if (discarded > 0) onErased()
      return discarded
    },

    getName: nameState,

    resetName(vault, name, now, { liftFence: lift }) {
      return resetTx.immediate(vault, name, now, lift)
    },
  }
}
