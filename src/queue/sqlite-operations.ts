// Operations data in SQLite: the global pause switch, and provenance (ingest facts and attempts per secret).
import type Database from 'better-sqlite3'
import type { Attempt, ControlState, NewEvent, OutsideChange, ProvenanceRecord } from './store.js'

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

interface AttemptRow {
  secret: number
  at: number
  outcome: string
  status: string | null
  version: number | null
  error: string | null
}

/** Turns attempt rows into the store's records, grouped by secret id (rows come oldest first). */
export function groupAttempts(rows: readonly AttemptRow[]): Record<number, Attempt[]> {
  const out: Record<number, Attempt[]> = {}
  for (const r of rows) {
    const list = out[r.secret] ?? []
    out[r.secret] = list
    list.push({
      secretId: r.secret,
      at: r.at,
      outcome: r.outcome,
      status: r.status,
      version: r.version,
      error: r.error,
    })
  }
  return out
}

/** Pairs an event's secret ids (in queue order) with the rule that produced each. */
export function rulesById(ids: readonly number[], rules: readonly string[]): Record<number, string> {
  const out: Record<number, string> = {}
  ids.forEach((id, i) => {
    const rule = rules[i]
    if (rule !== undefined) out[id] = rule
  })
  return out
}

/** Where a read-back's attempt comes: after the request's outcome, which it checks. */
const READ_BACKS = `('read-back', 'outside-change', 'read-back-failed')`

/**
 * An event's attempts, per secret oldest first: the rows (failures, read-backs), with each delivery taken
 * from its secret's row (`delivered_at`, `rwx_version`) between the request outcomes and the read-backs.
 * A delivery stored as a row (by a relay before 0.2) is not shown twice. `p` is the event id's placeholder.
 */
export function eventAttemptsSql(p: string): string {
  return `SELECT secret, at, outcome, status, version, error FROM (
      SELECT a.secret, a.at, a.outcome, a.status, a.version, a.error,
        CASE WHEN a.outcome IN ${READ_BACKS} THEN 2 ELSE 0 END AS phase, a.id AS n
      FROM attempts a JOIN secrets s ON s.id = a.secret WHERE s.event = ${p}
      UNION ALL
      SELECT s.id, s.delivered_at, 'delivered', '200', s.rwx_version, NULL, 1, 0
      FROM secrets s WHERE s.event = ${p} AND s.delivered_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM attempts d WHERE d.secret = s.id AND d.outcome = 'delivered')
    ) t ORDER BY secret, phase, n`
}

/** The columns an outside-change look-up returns, named as OutsideChange wants them. */
export const OUTSIDE_CHANGE_SELECT = `SELECT e.source, e.event_id AS "eventId", s.id AS "secretId", s.vault,
    s.name, a.at, s.rwx_version AS written, a.version AS "readBack"
  FROM attempts a JOIN secrets s ON s.id = a.secret JOIN events e ON e.id = s.event
  WHERE a.outcome = 'outside-change'`

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
