// The shared store contract on the SQLite store run on its own thread, as the built relay runs it (dist/).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { storeContract } from '../contract/index.js'

// The build's module (made by the suite's global setup, as the binary's tests use it): its thread starts
// in ~0.1 s, where the TypeScript sources' thread compiles itself through tsx first (~0.7 s a store).
const { openSqliteStoreOnThread }: typeof import('../../../src/queue/sqlite/on-thread.js') = await import(
  pathToFileURL(resolve('dist/queue/sqlite/on-thread.js')).href
)

storeContract('sqlite on its thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-thread-'))
  const store = await openSqliteStoreOnThread({ path: join(dir, 'relay.db') })
  return {
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
