// Migration 7 of the PostgreSQL queue: names whose last write has an unknown outcome, until one is confirmed.
import type { Migration } from '../../migration.js'

/** Schema version 7, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 7,
  name: 'fences',
  released: false,
  sql: `
  -- A write whose outcome is unknown (timed out, abandoned at shutdown) may still land at RWX. Its name is
  -- fenced by its lease: the lease stays, owned by '(unknown outcome)', until the write can no longer
  -- land (relay_claim skips a leased name). unconfirmed_since marks the name from then until a later
  -- write of it is confirmed by reading RWX's version back. The index holds only marked names (few, and
  -- none most of the time): the claim looks them up by it, and leasing (which never changes this column)
  -- stays a HOT update.
  ALTER TABLE names ADD COLUMN unconfirmed_since BIGINT;
  CREATE INDEX names_unconfirmed ON names (vault, name) WHERE unconfirmed_since IS NOT NULL;
  `,
}
