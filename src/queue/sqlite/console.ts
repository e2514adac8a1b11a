// What the console reads and writes in SQLite: the audit list of operators' actions (newest first) and
// the oldest queued secret.
import type Database from 'better-sqlite3'
import type { AuditEntry, NewAuditEntry } from '../store.js'

/** The console's part of a Store, in SQLite. */
export interface SqliteConsole {
  record(entry: NewAuditEntry): void
  list(limit: number): AuditEntry[]
  oldestQueuedAt(): number | null
}

export function createSqliteConsole(db: Database.Database): SqliteConsole {
  const insert = db.prepare<NewAuditEntry>(
    'INSERT INTO audit (at, actor, action, target, detail) VALUES (@at, @actor, @action, @target, @detail)',
  )
  const latest = db.prepare<[number], AuditEntry>(
    'SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?',
  )
  const oldest = db
    .prepare<[], number | null>(`SELECT MIN(created_at) FROM secrets WHERE status = 'queued'`)
    .pluck()
  return {
    oldestQueuedAt() {
      return oldest.get() ?? null
    },
    record(entry) {
      insert.run({
        at: entry.at,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        detail: entry.detail,
      })
    },
    list(limit) {
      return latest.all(Math.max(0, Math.floor(limit)))
    },
  }
}
