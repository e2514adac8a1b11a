// Migration 4 of the SQLite queue: fences, the names whose last write has an unknown outcome.
import type { Migration } from '../../migration.js'

/** Schema version 4, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 4,
  name: 'fences',
  released: false,
  sql: `
  -- A name whose last write to RWX has an unknown outcome (the request timed out, was abandoned at
  -- shutdown, or the process died while it was in flight): that write may still land, so no value of the
  -- name is sent before \`until\`; the row stays after that, until a write of the name is confirmed by
  -- reading RWX's version back (\`since\`: when the first unknown outcome was recorded).
  CREATE TABLE fences (
    vault TEXT NOT NULL,
    name TEXT NOT NULL,
    until INTEGER NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
  ) WITHOUT ROWID;
  `,
}
