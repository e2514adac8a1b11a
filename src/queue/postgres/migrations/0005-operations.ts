// Migration 5 of the PostgreSQL queue: the pause switch (control), event provenance and the attempts of secrets.
import type { Migration } from '../../migration.js'

/** Schema version 5, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 5,
  name: 'operations',
  released: true,
  sql: `
  -- operations: the global pause switch (one row every replica reads), and provenance (how an event was
  -- verified and mapped, and every attempt of its secrets); never a key or a value. Both go with their
  -- event on purge.
  CREATE TABLE control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    changed_at BIGINT,
    reason TEXT
  );
  INSERT INTO control (id, paused) VALUES (1, FALSE);

  CREATE TABLE event_provenance (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    verifier TEXT NOT NULL,
    key_id TEXT,
    rules TEXT[] NOT NULL,
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES events (source, event_id) ON DELETE CASCADE
  );

  CREATE TABLE attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret BIGINT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    status TEXT,
    version BIGINT,
    error TEXT
  );
  CREATE INDEX attempts_secret ON attempts (secret, id);
  CREATE INDEX attempts_outside ON attempts (at, id) WHERE outcome = 'outside-change';
  `,
}
