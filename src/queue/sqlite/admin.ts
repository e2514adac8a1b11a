// The admin side of the SQLite queue: listing and showing events (never a value), retrying, discarding.
import type Database from 'better-sqlite3'
import { type EventRow, type StatusCount, toEventRecords } from '../event-rows.js'
import { RECORD_COLUMNS, type RecordRow, toRecord } from '../rows.js'
import type { EventRecord, ListQuery } from '../store.js'
import type { NeverRegress } from './enqueue.js'

/** The admin half of a Store, in SQLite. */
export interface SqliteAdmin {
  listEvents(query: ListQuery): EventRecord[]
  getEvent(source: string, eventId: string): EventRecord | null
  retryEvent(source: string, eventId: string, now: number): number
  discardEvent(source: string, eventId: string, now: number): number
}

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
  const deadRefs = db.prepare<[number], { id: number; vault: string; name: string; event_time: number }>(
    `SELECT id, vault, name, event_time FROM secrets
       WHERE event = ? AND status = 'dead' AND ref IS NOT NULL ORDER BY id`,
  )
  const requeue = db.prepare<[number, number, number]>(
    `UPDATE secrets SET status = 'queued', attempts = 0, solo = 0, next_attempt_at = ?, updated_at = ?
       WHERE id = ?`,
  )
  const supersede = db.prepare<[string, number, number]>(
    `UPDATE secrets SET status = 'superseded', last_error = ?, updated_at = ? WHERE id = ?`,
  )
  const discard = db.prepare<[number, number]>(
    `UPDATE secrets SET status = 'discarded', sealed = NULL, next_attempt_at = NULL, updated_at = ?
       WHERE event = ? AND status = 'queued'`,
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
          // A dead reference can be fetched again, but only if that cannot regress its name.
          for (const dead of deadRefs.all(row.id)) {
            const placement = rules.place(dead.vault, dead.name, dead.event_time, dead.id)
            if (placement.status === 'superseded') {
              supersede.run(placement.error, now, dead.id)
              continue
            }
            requeue.run(now, now, dead.id)
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
      const row = findEvent.get(source, eventId)
      if (row === undefined) return 0
      const discarded = discard.run(now, row.id).changes
      if (discarded > 0) onErased()
      return discarded
    },
  }
}
