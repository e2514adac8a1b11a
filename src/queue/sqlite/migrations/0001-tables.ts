// Migration 1 of the SQLite queue: the events, secrets and names tables and their indexes.
import type { Migration } from '../../migration.js'

/** Schema version 1, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 1,
  name: 'tables',
  released: true,
  sql: `
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
}
