// Opens the configured store (sqlite:<path> or postgres://…) and the sealer for its values.
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import { createSealer, loadOrCreateKeyFile, parseKey, type Sealer } from './crypto.js'
import { openToOthers } from './private-files.js'
import { openSqliteStoreOnThread } from './sqlite/on-thread.js'
import { createSqliteStore } from './sqlite/store.js'
import type { Store } from './store.js'

export interface OpenedStore {
  store: Store
  sealer: Sealer
}

/** The SQLite file a `sqlite:` store URL names, resolved against `cwd`. */
export function sqlitePath(store: string, cwd: string): string {
  return resolve(cwd, store.slice('sqlite:'.length))
}

/** Opens the store `config.store` names, with the sealer for its values. */
export async function openStore(config: Config, log: Logger, cwd: string): Promise<OpenedStore> {
  if (config.store.startsWith('sqlite:')) {
    const path = sqlitePath(config.store, cwd)
    const keyFile = `${path}.key`
    let key: Buffer
    if (config.encryptionKey !== '') key = parseKey(config.encryptionKey)
    else {
      const made = loadOrCreateKeyFile(keyFile)
      key = made.key
      if (made.created) {
        log.warn(
          { keyFile },
          'no encryptionKey configured: generated one beside the database; set RELAY_ENCRYPTION_KEY to keep the key apart from the data',
        )
      } else log.warn({ keyFile }, 'no encryptionKey configured: using the key file beside the database')
    }
    const uncertainWriteMs = config.delivery.uncertainWriteSeconds * 1000
    const storeOptions = { path, uncertainWriteMs, log: log.child({ component: 'store' }) }
    // On its own thread (sqlite.thread): the event loop goes on with requests while a group commits.
    const store = config.sqlite.thread
      ? await openSqliteStoreOnThread(storeOptions)
      : createSqliteStore(storeOptions)
    // New files are 0600; older ones (an earlier relay, a restored copy) are left as they are, but said.
    const files = openToOthers([path, `${path}-wal`, `${path}-shm`, keyFile])
    if (files.length > 0) {
      log.warn(
        { files },
        'queue files are readable by other users: chmod 600 them (they hold encrypted values and their key)',
      )
    }
    return { store, sealer: createSealer(key) }
  }
  // Replicas share the database, so each needs the same key, and none is made up here.
  if (config.encryptionKey === '') throw new Error('encryptionKey is required with a PostgreSQL store')
  const sealer = createSealer(parseKey(config.encryptionKey))
  // Loaded only when configured: a SQLite deployment never loads pg.
  const { createPostgresStoreWhenReachable } = await import('./postgres/store.js')
  const store = await createPostgresStoreWhenReachable({
    url: config.store,
    poolSize: config.postgres.poolSize,
    enqueueTimeoutMs: config.postgres.enqueueTimeoutMs,
    uncertainWriteMs: config.delivery.uncertainWriteSeconds * 1000,
    log: log.child({ component: 'store' }),
  })
  return { store, sealer }
}
