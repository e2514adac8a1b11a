// The audit list in SQLite: operators' actions (who, when, what), newest first.
import type Database from 'better-sqlite3'
import type { AuditEntry, NewAuditEntry } from '../store.js'

/** The audit half of a Store, in SQLite. */
export interface SqliteAudit {
  record(entry: NewAuditEntry): void
  list(limit: number): AuditEntry[]
}

export function createSqliteAudit(db: Database.Database): SqliteAudit {
  const insert = db.prepare<NewAuditEntry>(
    'INSERT INTO audit (at, actor, action, target, detail) VALUES (@at, @actor, @action, @target, @detail)',
  )
  const latest = db.prepare<[number], AuditEntry>(
    'SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?',
  )
  return {
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
