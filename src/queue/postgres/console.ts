// What the console reads and writes in PostgreSQL: the audit list of operators' actions every replica
// shares (newest first) and the oldest queued secret.
import type pg from 'pg'
import type { AuditEntry, NewAuditEntry } from '../store.js'

/** The console's part of a Store, in PostgreSQL. */
export interface PostgresConsole {
  record(entry: NewAuditEntry): Promise<void>
  list(limit: number): Promise<AuditEntry[]>
  oldestQueuedAt(): Promise<number | null>
}

export function createPostgresConsole(pool: pg.Pool): PostgresConsole {
  return {
    async oldestQueuedAt() {
      const { rows } = await pool.query<{ at: number | null }>(
        `SELECT MIN(created_at) AS at FROM secrets WHERE status = 'queued'`,
      )
      return rows[0]?.at ?? null
    },
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
