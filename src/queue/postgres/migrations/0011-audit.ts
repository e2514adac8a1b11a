// Migration 11 of the PostgreSQL queue: the audit list of operators' actions (the console's pause, retry, discard).
import type { Migration } from '../../migration.js'

/** Schema version 11, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 11,
  name: 'audit',
  released: false,
  sql: `
  -- Who did what, when: the console's actions (pause, resume, retry, discard), shared by every replica.
  -- Never a token or a value: actor is the token kind and a session id. Kept apart from events, so
  -- retention does not purge it.
  CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
  );
  `,
}
