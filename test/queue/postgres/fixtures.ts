// Stores and databases for the PostgreSQL store tests: each test opens what it needs, and everything is
// closed and dropped after it.
import { afterEach, inject } from 'vitest'
import { createPostgresStore, type PostgresStoreOptions } from '../../../src/queue/postgres/store.js'
import type { Store } from '../../../src/queue/store.js'
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js'

/** What a test of the PostgreSQL store opens; see storesOnFreshDatabases. */
export interface PostgresFixtures {
  /** Stores opened so far by this test; a test that stops its server closes them itself. */
  stores: Store[]
  /** Opens a store on `url` (a pool of 4 unless `options` says otherwise), closed after the test. */
  open(url: string, options?: Partial<PostgresStoreOptions>): Promise<Store>
  /** Makes an empty database on the test server, dropped after the test. */
  freshDb(): Promise<TestDatabase>
}

/** Registers the clean-up (stores closed, then databases dropped) after each test of the calling suite. */
export function storesOnFreshDatabases(): PostgresFixtures {
  const adminUrl = inject('pgAdminUrl')
  const stores: Store[] = []
  const databases: TestDatabase[] = []
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => {})
    for (const db of databases.splice(0)) await db.drop()
  })
  return {
    stores,
    async open(url, options = {}) {
      const store = await createPostgresStore({ url, poolSize: 4, ...options })
      stores.push(store)
      return store
    },
    async freshDb() {
      const db = await createTestDatabase(adminUrl)
      databases.push(db)
      return db
    },
  }
}
