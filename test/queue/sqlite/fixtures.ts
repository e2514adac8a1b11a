// A SQLite store file for each test: a fresh directory (the database two levels below it, so opening
// creates them), the stores a test opens closed after it, and the directory removed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import { createSqliteStore, type SqliteStore } from '../../../src/queue/sqlite/store.js'

/** The current test's database file, and stores on it that are closed after the test. */
export interface SqliteFiles {
  /** The database path of the running test (set before each test). */
  readonly path: string
  /** Opens a store on `path`, closed after the test. */
  openStore(options?: { eraseDelayMs?: number }): SqliteStore
}

/** Registers a fresh directory before, and the clean-up after, each test of the calling suite. */
export function sqliteFiles(): SqliteFiles {
  let dir = ''
  let path = ''
  const open: SqliteStore[] = []
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-'))
    path = join(dir, 'nested', 'data', 'relay.db')
  })
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    get path() {
      return path
    },
    openStore(options = {}) {
      const store = createSqliteStore({ path, ...options })
      open.push(store)
      return store
    },
  }
}
