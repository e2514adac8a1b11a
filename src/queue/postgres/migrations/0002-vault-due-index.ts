// Migration 2 of the PostgreSQL queue: the index that lets a claim take whole vaults in due order.
import type { Migration } from '../../migration.js'

/** Schema version 2, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 2,
  name: 'vault-due-index',
  released: true,
  sql: `
  -- claims take whole vaults (a request carries one vault): a vault's due secrets in due order, without
  -- reading other vaults' or sorting the vault's backlog. Every queued secret has a next_attempt_at; the
  -- predicate says so that only queries bounding it (the claim) can use this index: a look-up by vault,
  -- name and status without statistics (a new database) would otherwise walk the vault's whole backlog
  -- here instead of using secrets_name.
  CREATE INDEX secrets_vault_due ON secrets (vault, next_attempt_at, id)
    WHERE status = 'queued' AND next_attempt_at IS NOT NULL;
  `,
}
