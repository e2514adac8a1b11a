// The inventory and reconciliation reads both stores share: portable SQL and its rows turned into records.
import { refFromText } from './rows.js'
import type { InventoryFacts, ReconcileMark, SecretStatus, SweepState } from './store.js'

/** A placeholder of the backend: `?1` for SQLite, `$1` for PostgreSQL (with a cast where needed). */
export type Placeholder = (n: number, type: 'text' | 'int') => string

/**
 * Every known vault and name (a watermark, a secret or a reconcile mark), filtered by vault (1) and name
 * (2) when `by` says so (else both are null), up to (3) names: its newest secret that is not superseded,
 * its oldest queued value, its watermark and when that value was delivered, its last read-back and its
 * reconcile mark.
 */
export function inventorySql(p: Placeholder, by: { vault: boolean; name: boolean }): string {
  const vault = p(1, 'text')
  const name = p(2, 'text')
  // Only the filters given, written out (an index serves `vault = ?`, never `? IS NULL OR vault = ?`).
  const filter = (t: string) =>
    [
      by.vault ? `${t}.vault = ${vault}` : `${vault} IS NULL`,
      by.name ? `${t}.name = ${name}` : `${name} IS NULL`,
    ].join(' AND ')
  // Each name of the page is looked up on its own, through secrets_name and attempts_secret: a window
  // over every secret joined to the page afterwards read the whole table, even for one name.
  const ofName = 's.vault = k.vault AND s.name = k.name'
  return `WITH keys AS (
      SELECT vault, name FROM names WHERE ${filter('names')}
      UNION SELECT vault, name FROM secrets WHERE ${filter('secrets')}
      UNION SELECT vault, name FROM reconcile_names WHERE ${filter('reconcile_names')}
    ), page AS (
      SELECT vault, name FROM keys ORDER BY vault, name LIMIT ${p(3, 'int')}
    )
    SELECT k.vault, k.name,
      l.id AS l_id, e.source AS l_source, e.event_id AS l_event_id, l.status AS l_status, l.ref AS l_ref,
      l.attempts AS l_attempts, l.last_error AS l_last_error, l.created_at AS l_created_at,
      l.updated_at AS l_updated_at,
      (SELECT MIN(s.created_at) FROM secrets s WHERE ${ofName} AND s.status = 'queued') AS waiting_since,
      n.delivered_secret_id AS n_secret, n.rwx_version AS n_version,
      COALESCE(d.delivered_at, n.updated_at) AS n_at,
      r.at AS r_at, r.version AS r_version, r.outcome AS r_outcome,
      m.source AS m_source, m.source_version AS m_version, m.checked_at AS m_checked_at,
      m.outcome AS m_outcome, m.error AS m_error, m.rwx_version AS m_rwx_version
    FROM page k
    LEFT JOIN secrets l ON l.id = (
      SELECT s.id FROM secrets s WHERE ${ofName} AND s.status <> 'superseded'
      ORDER BY s.event_time DESC, s.id DESC LIMIT 1)
    LEFT JOIN events e ON e.id = l.event
    LEFT JOIN names n ON n.vault = k.vault AND n.name = k.name
    LEFT JOIN secrets d ON d.id = n.delivered_secret_id
    LEFT JOIN attempts r ON r.id = (
      SELECT a.id FROM attempts a JOIN secrets s ON s.id = a.secret
      WHERE ${ofName} AND a.outcome IN ('read-back', 'outside-change')
      ORDER BY a.at DESC, a.id DESC LIMIT 1)
    LEFT JOIN reconcile_names m ON m.vault = k.vault AND m.name = k.name
    ORDER BY k.vault, k.name`
}

/** One row of `inventorySql` (numbers may come as strings from PostgreSQL's BIGINT). */
export interface InventoryRow {
  vault: string
  name: string
  l_id: number | string | null
  l_source: string | null
  l_event_id: string | null
  l_status: string | null
  l_ref: string | null
  l_attempts: number | null
  l_last_error: string | null
  l_created_at: number | string | null
  l_updated_at: number | string | null
  waiting_since: number | string | null
  n_secret: number | string | null
  n_version: number | string | null
  n_at: number | string | null
  r_at: number | string | null
  r_version: number | string | null
  r_outcome: string | null
  m_source: string | null
  m_version: string | null
  m_checked_at: number | string | null
  m_outcome: string | null
  m_error: string | null
  m_rwx_version: number | string | null
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v))

/** An inventory row as the store's record. */
export function toFacts(r: InventoryRow): InventoryFacts {
  return {
    vault: r.vault,
    name: r.name,
    latest:
      r.l_id === null
        ? null
        : {
            secretId: Number(r.l_id),
            source: r.l_source ?? '',
            eventId: r.l_event_id ?? '',
            status: r.l_status as SecretStatus,
            ref: refFromText(r.l_ref),
            attempts: Number(r.l_attempts ?? 0),
            lastError: r.l_last_error,
            createdAt: Number(r.l_created_at),
            updatedAt: Number(r.l_updated_at),
          },
    oldestQueuedAt: num(r.waiting_since),
    written: r.n_secret === null ? null : { version: num(r.n_version), at: Number(r.n_at) },
    readBack:
      r.r_at === null ? null : { at: Number(r.r_at), version: num(r.r_version), outcome: r.r_outcome ?? '' },
    reconcile:
      r.m_source === null
        ? null
        : {
            vault: r.vault,
            name: r.name,
            source: r.m_source,
            sourceVersion: r.m_version,
            checkedAt: num(r.m_checked_at),
            outcome: r.m_outcome,
            error: r.m_error,
            rwxVersion: num(r.m_rwx_version),
          },
  }
}

/** Upserts one reconcile mark: (1) vault … (8) rwx_version. */
export function upsertMarkSql(p: Placeholder): string {
  return `INSERT INTO reconcile_names (vault, name, source, source_version, checked_at, outcome, error, rwx_version)
    VALUES (${p(1, 'text')}, ${p(2, 'text')}, ${p(3, 'text')}, ${p(4, 'text')}, ${p(5, 'int')}, ${p(6, 'text')}, ${p(7, 'text')}, ${p(8, 'int')})
    ON CONFLICT (vault, name) DO UPDATE SET source = excluded.source, source_version = excluded.source_version,
      checked_at = excluded.checked_at, outcome = excluded.outcome, error = excluded.error,
      rwx_version = excluded.rwx_version`
}

/** A mark's parameters in `upsertMarkSql` order. */
export function markParams(m: ReconcileMark): (string | number | null)[] {
  return [m.vault, m.name, m.source, m.sourceVersion, m.checkedAt, m.outcome, m.error, m.rwxVersion]
}

/**
 * Takes a source's sweep: (1) source, (2) owner, (3) lease until, (4) now, (5) 1 to take it even when not
 * due. Returns the row when taken, nothing when another owner's lease lives or it is not due.
 */
export function claimSweepSql(p: Placeholder): string {
  const now = p(4, 'int')
  return `INSERT INTO reconcile_sweeps (source, lease_owner, lease_until) VALUES (${p(1, 'text')}, ${p(2, 'text')}, ${p(3, 'int')})
    ON CONFLICT (source) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
    WHERE (reconcile_sweeps.lease_owner IS NULL OR reconcile_sweeps.lease_until <= ${now}
        OR reconcile_sweeps.lease_owner = excluded.lease_owner)
      AND (${p(5, 'int')} = 1 OR reconcile_sweeps.next_due_at IS NULL OR reconcile_sweeps.next_due_at <= ${now})
    RETURNING ${SWEEP_COLUMNS}`
}

/** Ends a sweep: (1) source, (2) owner, (3) now, (4) outcome, (5) next due. */
export function finishSweepSql(p: Placeholder): string {
  const now = p(3, 'int')
  const outcome = p(4, 'text')
  return `UPDATE reconcile_sweeps SET lease_owner = NULL, lease_until = NULL, last_at = ${now},
      last_ok_at = CASE WHEN ${outcome} = 'ok' THEN ${now} ELSE last_ok_at END,
      last_outcome = ${outcome}, next_due_at = ${p(5, 'int')}
    WHERE source = ${p(1, 'text')} AND lease_owner = ${p(2, 'text')}`
}

/** The columns of a sweep row, named as `toSweep` reads them. */
export const SWEEP_COLUMNS =
  'source, lease_owner, lease_until, last_at, last_ok_at, last_outcome, next_due_at'

/** A `reconcile_sweeps` row. */
export interface SweepRow {
  source: string
  lease_owner: string | null
  lease_until: number | string | null
  last_at: number | string | null
  last_ok_at: number | string | null
  last_outcome: string | null
  next_due_at: number | string | null
}

export function toSweep(r: SweepRow): SweepState {
  return {
    source: r.source,
    leaseOwner: r.lease_owner,
    leaseUntil: num(r.lease_until),
    lastAt: num(r.last_at),
    lastOkAt: num(r.last_ok_at),
    lastOutcome: r.last_outcome,
    nextDueAt: num(r.next_due_at),
  }
}

/** A source never swept. */
export const neverSwept = (source: string): SweepState => ({
  source,
  leaseOwner: null,
  leaseUntil: null,
  lastAt: null,
  lastOkAt: null,
  lastOutcome: null,
  nextDueAt: null,
})
