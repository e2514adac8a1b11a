// Migration 3 of the SQLite queue: the pause switch (control), event provenance and the attempts of secrets.
import type { Migration } from '../../migration.js'

/** Schema version 3, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 3,
  name: 'operations',
  released: true,
  sql: `
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
}
