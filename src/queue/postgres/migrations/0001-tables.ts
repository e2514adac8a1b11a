// Migration 1 of the PostgreSQL queue: the events, secrets and names tables, their indexes and vacuum settings.
import type { Migration } from '../../migration.js'

/** Schema version 1, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 1,
  name: 'tables',
  released: true,
  sql: `
  CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (source, event_id)
  );
  CREATE INDEX events_received ON events (received_at, id);
  CREATE INDEX events_source_received ON events (source, received_at, id);

  -- vault and name sort by bytes ("C"), so every process locks names in the same order as it sorts them
  CREATE TABLE secrets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event BIGINT NOT NULL REFERENCES events (id),
    vault TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT,
    sealed BYTEA,
    ref TEXT,
    fingerprint TEXT,
    event_time BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'dead', 'superseded', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    solo BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT,
    rwx_version BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT,
    -- a value lives only while it waits: any other status without erasing it is a bug, so refuse it
    CHECK (status = 'queued' OR sealed IS NULL)
  );
  CREATE INDEX secrets_due ON secrets (next_attempt_at, id) WHERE status = 'queued';
  CREATE INDEX secrets_name ON secrets (vault, name, status);
  CREATE INDEX secrets_event ON secrets (event, status);
  CREATE INDEX secrets_leased ON secrets (vault, name, lease_until) WHERE lease_owner IS NOT NULL;
  CREATE INDEX secrets_owner ON secrets (lease_owner) WHERE lease_owner IS NOT NULL;

  -- One row per vault and name: the lock that serializes every writer of the name across replicas,
  -- and the never-regress watermark (the newest value, by event time then arrival, written to RWX).
  CREATE TABLE names (
    vault TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    delivered_event_time BIGINT,
    delivered_secret_id BIGINT,
    rwx_version BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (vault, name),
    CHECK ((delivered_event_time IS NULL) = (delivered_secret_id IS NULL))
  );

  -- An erased value (sealed = NULL) stays in the old row version until vacuum removes it: vacuum these
  -- tables after a fixed number of changed rows, not after a fraction of a table that keeps growing.
  ALTER TABLE secrets SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
    toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = 100
  );
  ALTER TABLE names SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
  `,
}
