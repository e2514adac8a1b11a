// Migration 8 of the PostgreSQL queue: a placeholder on this branch for the leases helper's migration 8.
import type { Migration } from '../../migration.js'

/**
 * Schema version 8 is assigned to another change (leases); this placeholder only keeps the list in order
 * on this branch, and is replaced by that migration when the branches merge.
 */
export const migration: Migration = {
  version: 8,
  name: 'reserved',
  released: false,
  sql: `
  SELECT 1;
  `,
}
