// Operations data in SQLite: the global pause switch, and provenance (ingest facts and attempts per secret).
import type Database from 'better-sqlite3'
import {
  type AttemptRow,
  eventAttemptsSql,
  groupAttempts,
  OUTSIDE_CHANGE_SELECT,
  rulesById,
} from '../provenance.js'
import type { Attempt, ControlState, NewEvent, OutsideChange, ProvenanceRecord } from '../store.js'

/**
 * The operations half of a Store, in SQLite; `recordIngest` and `recordAttempts` run inside the caller's
 * enqueue or settle transaction.
 */
export interface SqliteOperations {
  recordIngest(event: NewEvent): void
  recordAttempts(attempts: Attempt[]): void
  getProvenance(source: string, eventId: string): ProvenanceRecord | null
  outsideChanges(limit: number): { total: number; latest: OutsideChange[] }
  getControl(): ControlState
  setPaused(paused: boolean, now: number, reason: string | null): ControlState
}

export function createSqliteOperations(db: Database.Database): SqliteOperations {
  const insertIngest = db.prepare<[string, string, string, string | null, string]>(
    'INSERT INTO event_provenance (source, event_id, verifier, key_id, rules) VALUES (?, ?, ?, ?, ?)',
  )
  const insertAttempt = db.prepare<Attempt>(
    `INSERT INTO attempts (secret, at, outcome, status, version, error)
     SELECT @secretId, @at, @outcome, @status, @version, @error
     WHERE EXISTS (SELECT 1 FROM secrets WHERE id = @secretId)`,
  )
  const findEvent = db.prepare<[string, string], { id: number }>(
    'SELECT id FROM events WHERE source = ? AND event_id = ?',
  )
  const ingestOf = db.prepare<[string, string], { verifier: string; key_id: string | null; rules: string }>(
    'SELECT verifier, key_id, rules FROM event_provenance WHERE source = ? AND event_id = ?',
  )
  const secretIds = db.prepare<[number], number>('SELECT id FROM secrets WHERE event = ? ORDER BY id').pluck()
  const attemptsOf = db.prepare<{ event: number }, AttemptRow>(eventAttemptsSql('@event'))
  const outsideCount = db
    .prepare<[], number>(`SELECT COUNT(*) FROM attempts WHERE outcome = 'outside-change'`)
    .pluck()
  const outsideLatest = db.prepare<[number], OutsideChange>(
    `${OUTSIDE_CHANGE_SELECT} ORDER BY a.at DESC, a.id DESC LIMIT ?`,
  )
  const control = db.prepare<[], { paused: number; changed_at: number | null; reason: string | null }>(
    'SELECT paused, changed_at, reason FROM control WHERE id = 1',
  )
  const setControl = db.prepare<[number, number, string | null]>(
    'UPDATE control SET paused = ?, changed_at = ?, reason = ? WHERE id = 1',
  )
  const recordAll = db.transaction((attempts: Attempt[]) => {
    for (const a of attempts) insertAttempt.run(a)
  })

  function getControl(): ControlState {
    const row = control.get()
    return { paused: row?.paused === 1, changedAt: row?.changed_at ?? null, reason: row?.reason ?? null }
  }

  return {
    recordIngest(event) {
      const p = event.provenance
      if (p === undefined) return
      insertIngest.run(event.source, event.eventId, p.verifier, p.keyId, JSON.stringify(p.rules))
    },
    recordAttempts(attempts) {
      if (attempts.length > 0) recordAll(attempts)
    },
    getProvenance(source, eventId) {
      const event = findEvent.get(source, eventId)
      if (event === undefined) return null
      const ingest = ingestOf.get(source, eventId)
      const rules = ingest ? (JSON.parse(ingest.rules) as string[]) : []
      return {
        verifier: ingest?.verifier ?? null,
        keyId: ingest?.key_id ?? null,
        rules: rulesById(secretIds.all(event.id), rules),
        attempts: groupAttempts(attemptsOf.all({ event: event.id })),
      }
    },
    outsideChanges(limit) {
      return { total: outsideCount.get() ?? 0, latest: outsideLatest.all(Math.max(0, Math.floor(limit))) }
    },
    getControl,
    setPaused(paused, now, reason) {
      setControl.run(paused ? 1 : 0, now, paused ? reason : null)
      return getControl()
    },
  }
}
