// The shared store contract on real SQLite files, a fresh file for each test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteStore } from '../../../src/queue/sqlite/store.js'
import { storeContract } from '../contract/index.js'

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'))
  const store = createSqliteStore({ path: join(dir, 'relay.db') })
  return {
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
