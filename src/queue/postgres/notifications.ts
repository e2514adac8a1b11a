// The notification outbox in PostgreSQL: replicas share it; a row is leased by one of them per try.
import type pg from 'pg'
import type { NewNotification, NotificationResult, PendingNotification } from '../store.js'

/** The outbox half of a Store, in PostgreSQL. */
export interface PostgresNotifications {
  add(n: NewNotification): Promise<void>
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<PendingNotification[]>
  finish(id: string, owner: string, result: NotificationResult): Promise<void>
  nextAt(): Promise<number | null>
}

interface Row {
  id: string
  kind: string
  body: string
  created_at: string
  attempts: number
}

export function createPostgresNotifications(pool: pg.Pool): PostgresNotifications {
  return {
    async add(n) {
      await pool.query(
        `INSERT INTO notifications (id, kind, body, created_at, due_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (id) DO NOTHING`,
        [n.id, n.kind, n.body, n.createdAt],
      )
    },

    async claim(owner, now, leaseMs, limit) {
      // SKIP LOCKED: replicas claiming at once take different rows instead of waiting on each other.
      const { rows } = await pool.query<Row>(
        `UPDATE notifications n SET lease_owner = $1, lease_until = $2, attempts = n.attempts + 1
         FROM (SELECT id FROM notifications
               WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
               ORDER BY due_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED) due
         WHERE n.id = due.id
         RETURNING n.id, n.kind, n.body, n.created_at, n.attempts`,
        [owner, now + leaseMs, now, limit],
      )
      return rows
        .map((r) => ({
          id: r.id,
          kind: r.kind,
          body: r.body,
          createdAt: Number(r.created_at),
          attempts: r.attempts,
        }))
        .sort((a, b) => a.createdAt - b.createdAt)
    },

    async finish(id, owner, result) {
      if (result.kind === 'retry')
        await pool.query(
          `UPDATE notifications SET due_at = $1, last_error = $2, lease_owner = NULL, lease_until = NULL
           WHERE id = $3 AND lease_owner = $4`,
          [result.at, result.error, id, owner],
        )
      else await pool.query('DELETE FROM notifications WHERE id = $1 AND lease_owner = $2', [id, owner])
    },

    async nextAt() {
      const { rows } = await pool.query<{ at: string | null }>(
        'SELECT MIN(COALESCE(lease_until, due_at)) AS at FROM notifications',
      )
      const at = rows[0]?.at
      return at === null || at === undefined ? null : Number(at)
    },
  }
}
