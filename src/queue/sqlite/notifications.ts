// The notification outbox in SQLite: queued with a stable id, leased for a try, removed once sent or given up.
import type Database from 'better-sqlite3'
import type { NewNotification, NotificationResult, PendingNotification } from '../store.js'

/** The outbox half of a Store, in SQLite (synchronous: one process owns the file). */
export interface SqliteNotifications {
  add(n: NewNotification): void
  claim(owner: string, now: number, leaseMs: number, limit: number): PendingNotification[]
  finish(id: string, owner: string, result: NotificationResult): void
  nextAt(): number | null
}

interface Row {
  id: string
  kind: string
  body: string
  created_at: number
  attempts: number
}

export function createSqliteNotifications(db: Database.Database): SqliteNotifications {
  const insert = db.prepare<NewNotification>(
    `INSERT INTO notifications (id, kind, body, created_at, due_at)
     VALUES (@id, @kind, @body, @createdAt, @createdAt) ON CONFLICT (id) DO NOTHING`,
  )
  const due = db.prepare<[string, number, number, number, number], Row>(
    `UPDATE notifications SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
     WHERE id IN (
       SELECT id FROM notifications
       WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
       ORDER BY due_at, created_at LIMIT ?)
     RETURNING id, kind, body, created_at, attempts`,
  )
  const remove = db.prepare<[string, string]>('DELETE FROM notifications WHERE id = ? AND lease_owner = ?')
  const later = db.prepare<[number, string, string, string]>(
    `UPDATE notifications SET due_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
     WHERE id = ? AND lease_owner = ?`,
  )
  const next = db.prepare<[], { at: number | null }>(
    'SELECT MIN(COALESCE(lease_until, due_at)) AS at FROM notifications',
  )
  return {
    add(n) {
      insert.run(n)
    },
    claim(owner, now, leaseMs, limit) {
      // better-sqlite3 binds in order: owner, lease end, now (due), now (lease over), limit
      const rows = due.all(owner, now + leaseMs, now, now, limit)
      return rows
        .map((r) => ({ id: r.id, kind: r.kind, body: r.body, createdAt: r.created_at, attempts: r.attempts }))
        .sort((a, b) => a.createdAt - b.createdAt)
    },
    finish(id, owner, result) {
      if (result.kind === 'retry') later.run(result.at, result.error, id, owner)
      else remove.run(id, owner)
    },
    nextAt() {
      return next.get()?.at ?? null
    },
  }
}
