// Migration 5 of the SQLite queue: reserved for the reconcile branch (issue 17); empty here.
import type { Migration } from '../../migration.js'

/**
 * Schema version 5, a placeholder so version 6 keeps its number: the reconcile branch's migration 5
 * replaces this file when the branches are merged (never released as it is).
 */
export const migration: Migration = {
  version: 5,
  name: 'reserved-reconcile',
  released: false,
  sql: '',
}
