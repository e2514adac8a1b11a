// The shared store contract on a real PostgreSQL server: one database for all of it, emptied before
// each test.
import pg from 'pg'
import { afterAll, beforeAll, inject } from 'vitest'
import { createPostgresStore } from '../../../src/queue/postgres/store.js'
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js'
import { storeContract } from '../contract/index.js'

const adminUrl = inject('pgAdminUrl')
let contractDb: TestDatabase | undefined
let contractPool: pg.Pool | undefined

beforeAll(async () => {
  contractDb = await createTestDatabase(adminUrl)
  contractPool = new pg.Pool({ connectionString: contractDb.url, max: 1 })
})
afterAll(async () => {
  await contractPool?.end()
  await contractDb?.drop()
})

// One database for the contract, emptied before each test: far quicker than a database per test.
storeContract('postgres', async () => {
  const store = await createPostgresStore({ url: contractDb!.url, poolSize: 4 })
  await contractPool!.query(
    'TRUNCATE attempts, event_provenance, dead_values, secrets, events, names, reconcile_names, reconcile_sweeps, notifications, audit RESTART IDENTITY',
  )
  await contractPool!.query('UPDATE control SET paused = FALSE, changed_at = NULL, reason = NULL')
  return { store, cleanup: () => store.close() }
})
