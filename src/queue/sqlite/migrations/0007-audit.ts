// Migration 7 of the SQLite queue: the audit list of operators' actions (the console's pause, retry, discard).
import type { Migration } from '../../migration.js'

/** Schema version 7, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 7,
  name: 'audit',
  released: false,
  sql: `
  -- Who did what, when: the console's actions (pause, resume, retry, discard). Never a token or a value:
  -- actor is the token kind and a session id. Kept apart from events, so retention does not purge it.
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
  );
  `,
}
