// Migration 8 of the PostgreSQL queue: reserved for the leases branch (issues 17 and 18); empty here.
import type { Migration } from '../../migration.js'

/**
 * Schema version 8, a placeholder so version 10 keeps its number: the leases branch's migration 8
 * replaces this file when the branches are merged (never released as it is).
 */
export const migration: Migration = {
  version: 8,
  name: 'reserved-leases',
  released: false,
  sql: '',
}
