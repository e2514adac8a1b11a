// Migration 9 of the PostgreSQL queue: what reconciliation remembers per name and per source, and dead values kept for retry.
import type { Migration } from '../../migration.js'

/** Schema version 9, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 9,
  name: 'reconcile',
  released: false,
  sql: `
  -- Per vault and name a source reconciles: the newest source version the relay queued or saw delivered
  -- (it outlives purged events), the last sweep's look at it, and RWX's version read then. Never a value.
  CREATE TABLE reconcile_names (
    vault TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    source TEXT NOT NULL,
    source_version TEXT,
    checked_at BIGINT,
    outcome TEXT,
    error TEXT,
    rwx_version BIGINT,
    PRIMARY KEY (vault, name)
  );

  -- Per source: who sweeps now (a lease: one replica sweeps a source at a time), the last sweep, and the
  -- next one due (sweeps keep their pace across restarts).
  CREATE TABLE reconcile_sweeps (
    source TEXT PRIMARY KEY,
    lease_owner TEXT,
    lease_until BIGINT,
    last_at BIGINT,
    last_ok_at BIGINT,
    last_outcome TEXT,
    next_due_at BIGINT
  );

  -- The sealed value of a dead secret, kept until "until" so retry can still deliver it (secrets.sealed
  -- must be NULL for any status but queued); retention erases it after that.
  CREATE TABLE dead_values (
    secret BIGINT PRIMARY KEY REFERENCES secrets (id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    until BIGINT NOT NULL
  );
  CREATE INDEX dead_values_until ON dead_values (until);
  `,
}
