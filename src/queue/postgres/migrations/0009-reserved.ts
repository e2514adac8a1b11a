// Placeholder for PostgreSQL version 9 (another branch's migration): the lead drops it when merging that one.
import type { Migration } from '../../migration.js'

/** Reserved: does nothing. Kept only so that versions stay 1..n in order on this branch. */
export const migration: Migration = {
  version: 9,
  name: 'reserved',
  released: false,
  sql: 'SELECT 1;',
}
