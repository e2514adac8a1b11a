// Migration 5 of the SQLite queue: what reconciliation remembers per name and per source, and dead values kept for retry.
import type { Migration } from '../../migration.js'

/** Schema version 5, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 5,
  name: 'reconcile',
  released: false,
  sql: `
  -- Per vault and name a source reconciles: the newest source version the relay queued or saw delivered
  -- (it outlives purged events), the last sweep's look at it, and RWX's version read then. Never a value.
  CREATE TABLE reconcile_names (
    vault TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    source_version TEXT,
    checked_at INTEGER,
    outcome TEXT,
    error TEXT,
    rwx_version INTEGER,
    PRIMARY KEY (vault, name)
  ) WITHOUT ROWID;

  -- Per source: who sweeps now (a lease, for replicas on one store), the last sweep, and the next one due.
  CREATE TABLE reconcile_sweeps (
    source TEXT PRIMARY KEY,
    lease_owner TEXT,
    lease_until INTEGER,
    last_at INTEGER,
    last_ok_at INTEGER,
    last_outcome TEXT,
    next_due_at INTEGER
  ) WITHOUT ROWID;

  -- The sealed value of a dead secret, kept until \`until\` so \`retry\` can still deliver it (secrets.sealed
  -- must be NULL for any status but queued); retention erases it after that.
  CREATE TABLE dead_values (
    secret INTEGER PRIMARY KEY REFERENCES secrets (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    until INTEGER NOT NULL
  );
  CREATE INDEX dead_values_until ON dead_values (until);
  `,
}
