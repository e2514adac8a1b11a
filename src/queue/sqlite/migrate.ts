// Opens the SQLite queue database: durability and erasure pragmas, then the migrations of migrations/.
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { makePrivateDir, makePrivateFile } from '../private-files.js'
import { MIGRATIONS } from './migrations/index.js'

/** Bytes of WAL kept for reuse between checkpoints (the default auto-checkpoint needs about 4 MiB). */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024

/** Brings `db` to the latest schema version, each step in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new Error(
      `queue database schema version ${current} is newer than this relay knows (${MIGRATIONS.length})`,
    )
  }
  for (const { version, sql } of MIGRATIONS.slice(current)) {
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${version}`)
    }).immediate()
  }
}

/**
 * Opens the database at `path` for the queue, creating it 0600 (and its directory 0700) when missing. WAL with `synchronous = FULL`
 * makes every commit durable before it returns; `secure_delete` zeroes what a deleted value occupied.
 */
export function openQueueDatabase(path: string): Database.Database {
  if (path !== ':memory:') {
    makePrivateDir(dirname(path))
    makePrivateFile(path)
  }
  const db = new Database(path)
  try {
    db.pragma('busy_timeout = 5000')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('secure_delete = ON')
    // The WAL is reused after each checkpoint rather than truncated: growing a file costs more per commit
    // than overwriting it. Stale frames can hold erased values, so the store truncates the WAL on purpose
    // soon after every erase (store.ts); this only caps what a burst leaves behind.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`)
    migrate(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}
