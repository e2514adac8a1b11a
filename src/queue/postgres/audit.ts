// The audit list in PostgreSQL: operators' actions (who, when, what) every replica shares, newest first.
import type pg from 'pg'
import type { AuditEntry, NewAuditEntry } from '../store.js'

/** The audit half of a Store, in PostgreSQL. */
export interface PostgresAudit {
  record(entry: NewAuditEntry): Promise<void>
  list(limit: number): Promise<AuditEntry[]>
}

export function createPostgresAudit(pool: pg.Pool): PostgresAudit {
  return {
    async record(entry) {
      await pool.query('INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)', [
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.detail,
      ])
    },
    async list(limit) {
      const { rows } = await pool.query<AuditEntry>(
        'SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT $1',
        [Math.max(0, Math.floor(limit))],
      )
      return rows
    },
  }
}
