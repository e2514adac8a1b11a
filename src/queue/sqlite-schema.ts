// Opens the SQLite queue database: durability and erasure pragmas, then versioned migrations.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

/**
 * Schema versions, applied in order; `PRAGMA user_version` holds how many have run. Append new
 * versions, never edit a shipped one: databases in the field have already run it.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (source, event_id)
  );
  CREATE INDEX events_received ON events (received_at, id);
  CREATE INDEX events_source_received ON events (source, received_at, id);

  CREATE TABLE secrets (
    id INTEGER PRIMARY KEY,
    event INTEGER NOT NULL REFERENCES events (id),
    vault TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    sealed BLOB,
    ref TEXT,
    fingerprint TEXT,
    event_time INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'dead', 'superseded', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    solo INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    rwx_version INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delivered_at INTEGER,
    -- a value lives only while it waits: any other status without erasing it is a bug, so refuse it
    CHECK (status = 'queued' OR sealed IS NULL)
  );
  CREATE INDEX secrets_due ON secrets (status, next_attempt_at, id);
  CREATE INDEX secrets_name ON secrets (vault, name, status);
  CREATE INDEX secrets_event ON secrets (event, status);
  CREATE INDEX secrets_leased ON secrets (vault, name, lease_until) WHERE lease_owner IS NOT NULL;

  -- the never-regress watermark: the newest value (event time, then arrival) written to RWX per name
  CREATE TABLE names (
    vault TEXT NOT NULL,
    name TEXT NOT NULL,
    delivered_event_time INTEGER NOT NULL,
    delivered_secret_id INTEGER NOT NULL,
    rwx_version INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
  ) WITHOUT ROWID;
  `,
  `
  -- claims take whole vaults (a request carries one vault): a vault's due secrets without scanning others
  CREATE INDEX secrets_vault_due ON secrets (vault, next_attempt_at, id) WHERE status = 'queued';
  `,
  `
  -- operations: the global pause switch (one row), and provenance (how an event was verified and mapped,
  -- and every attempt of its secrets); never a key or a value. Both go with their event on purge.
  CREATE TABLE control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL DEFAULT 0,
    changed_at INTEGER,
    reason TEXT
  );
  INSERT INTO control (id, paused) VALUES (1, 0);

  CREATE TABLE event_provenance (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    verifier TEXT NOT NULL,
    key_id TEXT,
    rules TEXT NOT NULL,
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES events (source, event_id) ON DELETE CASCADE
  ) WITHOUT ROWID;

  CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    secret INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status TEXT,
    version INTEGER,
    error TEXT
  );
  CREATE INDEX attempts_secret ON attempts (secret, id);
  CREATE INDEX attempts_outside ON attempts (at, id) WHERE outcome = 'outside-change';
  `,
]

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
  MIGRATIONS.slice(current).forEach((sql, i) => {
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${current + i + 1}`)
    }).immediate()
  })
}

/**
 * Opens (creating its directory) the database at `path` for the queue. WAL with `synchronous = FULL`
 * makes every commit durable before it returns; `secure_delete` zeroes what a deleted value occupied.
 */
export function openQueueDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const db = new Database(path)
  try {
    db.pragma('busy_timeout = 5000')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('secure_delete = ON')
    // The WAL is reused after each checkpoint rather than truncated: growing a file costs more per commit
    // than overwriting it. Stale frames can hold erased values, so the store truncates the WAL on purpose
    // soon after every erase (sqlite.ts); this only caps what a burst leaves behind.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`)
    migrate(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}
