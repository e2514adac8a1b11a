// Migration 9 of the PostgreSQL queue: reserved for the reconcile branch (issues 17 and 18); empty here.
import type { Migration } from '../../migration.js'

/**
 * Schema version 9, a placeholder so version 10 keeps its number: the reconcile branch's migration 9
 * replaces this file when the branches are merged (never released as it is).
 */
export const migration: Migration = {
  version: 9,
  name: 'reserved-reconcile',
  released: false,
  sql: '',
}
