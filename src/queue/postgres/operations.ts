// Operations data in PostgreSQL: the global pause switch every replica reads, and reading provenance
// (ingest facts and attempts per secret; written with their event by enqueue and with their outcomes by
// settle).
import type pg from 'pg'
import { eventAttemptsSql, groupAttempts, OUTSIDE_CHANGE_SELECT, rulesById } from '../provenance.js'
import type { ControlState, OutsideChange, ProvenanceRecord } from '../store.js'

/** The operations half of a Store, in PostgreSQL. */
export interface PostgresOperations {
  getProvenance(source: string, eventId: string): Promise<ProvenanceRecord | null>
  outsideChanges(limit: number): Promise<{ total: number; latest: OutsideChange[] }>
  getControl(): Promise<ControlState>
  setPaused(paused: boolean, now: number, reason: string | null): Promise<ControlState>
}

/** The pause switch, read before each claim and request (at most once a second). */
export const CONTROL_SELECT = 'SELECT paused, changed_at, reason FROM control WHERE id = 1'

interface ControlRow {
  paused: boolean
  changed_at: number | null
  reason: string | null
}

const toControl = (row: ControlRow | undefined): ControlState => ({
  paused: row?.paused === true,
  changedAt: row?.changed_at ?? null,
  reason: row?.reason ?? null,
})

export function createPostgresOperations(pool: pg.Pool): PostgresOperations {
  return {
    async getProvenance(source, eventId) {
      const { rows } = await pool.query<{
        id: number
        verifier: string | null
        key_id: string | null
        rules: string[] | null
        secrets: number[]
      }>(
        `SELECT e.id, p.verifier, p.key_id, p.rules,
           ARRAY(SELECT s.id FROM secrets s WHERE s.event = e.id ORDER BY s.id) AS secrets
         FROM events e LEFT JOIN event_provenance p ON p.source = e.source AND p.event_id = e.event_id
         WHERE e.source = $1 AND e.event_id = $2`,
        [source, eventId],
      )
      const event = rows[0]
      if (event === undefined) return null
      const attempts = await pool.query(eventAttemptsSql('$1'), [event.id])
      return {
        verifier: event.verifier,
        keyId: event.key_id,
        rules: rulesById(event.secrets.map(Number), event.rules ?? []),
        attempts: groupAttempts(attempts.rows),
      }
    },

    async outsideChanges(limit) {
      const [count, latest] = await Promise.all([
        pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM attempts WHERE outcome = 'outside-change'`),
        pool.query<OutsideChange>(`${OUTSIDE_CHANGE_SELECT} ORDER BY a.at DESC, a.id DESC LIMIT $1`, [
          Math.max(0, Math.floor(limit)),
        ]),
      ])
      return { total: count.rows[0]?.n ?? 0, latest: latest.rows }
    },

    async getControl() {
      const { rows } = await pool.query<ControlRow>(CONTROL_SELECT)
      return toControl(rows[0])
    },

    async setPaused(paused, now, reason) {
      const { rows } = await pool.query<ControlRow>(
        `UPDATE control SET paused = $1, changed_at = $2, reason = $3 WHERE id = 1
         RETURNING paused, changed_at, reason`,
        [paused, now, paused ? reason : null],
      )
      return toControl(rows[0])
    },
  }
}
