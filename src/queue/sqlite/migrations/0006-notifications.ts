// Migration 6 of the SQLite queue: the outbox of outbound notifications (`notify`).
import type { Migration } from '../../migration.js'

/** Schema version 6, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 6,
  name: 'notifications',
  released: false,
  sql: `
  -- Notifications waiting for the receiver to take them (at least once): a row leaves when the receiver
  -- answers 2xx or the tries run out. \`id\` is the webhook-id, the same on every try; \`body\` is the
  -- signed JSON, which never holds a value. A leased row is being sent by \`lease_owner\` until
  -- \`lease_until\`; \`due_at\` is when its next try is due.
  CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX notifications_due ON notifications (due_at);
  `,
}
