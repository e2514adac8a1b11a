// Migration 2 of the SQLite queue: the index that lets a claim take whole vaults.
import type { Migration } from '../../migration.js'

/** Schema version 2, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 2,
  name: 'vault-due-index',
  released: true,
  sql: `
  -- claims take whole vaults (a request carries one vault): a vault's due secrets without scanning others
  CREATE INDEX secrets_vault_due ON secrets (vault, next_attempt_at, id) WHERE status = 'queued';
  `,
}
