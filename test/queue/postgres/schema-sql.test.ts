// src/queue/postgres/schema.sql is what the migrations make: regenerate it with `npm run schema:pg`.
import { readFileSync, writeFileSync } from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createPostgresStore } from '../../../src/queue/postgres/store.js'
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js'
import { dumpSchema, SCHEMA_SQL_PATH } from './schema-dump.js'

let db: TestDatabase | undefined
beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'))
})
afterAll(async () => {
  await db?.drop()
})

it('schema.sql is the schema of a freshly migrated database', async () => {
  const store = await createPostgresStore({ url: db!.url, poolSize: 1 })
  await store.close()
  const client = new pg.Client({ connectionString: db!.url })
  await client.connect()
  const dumped = await dumpSchema(client).finally(() => client.end())
  // `npm run schema:pg` runs this test with UPDATE_PG_SCHEMA=1 to write the file instead of comparing
  if (process.env.UPDATE_PG_SCHEMA === '1') writeFileSync(SCHEMA_SQL_PATH, dumped)
  expect(dumped, `${SCHEMA_SQL_PATH} is stale: run npm run schema:pg`).toBe(
    readFileSync(SCHEMA_SQL_PATH, 'utf8'),
  )
})
