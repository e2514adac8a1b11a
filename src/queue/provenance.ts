// Provenance reads both stores share: an event's attempts in the order the admin API shows them, and the
// outside-change look-up; the SQL here is portable between SQLite and PostgreSQL.
import type { Attempt } from './store.js'

/** One `attempts` row, as both stores read it. */
export interface AttemptRow {
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
