// What bench/ uses of the relay, in one typed place: a renamed or moved export fails `npm run typecheck`
// here instead of failing the benchmark at run time. Compiled to dist-tools/; it runs against dist/.
import type { createPostgresStore } from '#dist/queue/postgres/store.js'

export { configSchema } from '#dist/config/schema.js'
export { createPauseSwitch } from '#dist/delivery/pause.js'
export { createRwxClient } from '#dist/delivery/rwx-client.js'
export { createDeliveryWorker } from '#dist/delivery/worker.js'
export { createLogger } from '#dist/log.js'
export { createSealer, valueAad } from '#dist/queue/crypto.js'
export { createSqliteStore } from '#dist/queue/sqlite/store.js'
export { USER_AGENT } from '#dist/version.js'
export { startFakeRwx } from './fake-rwx.js'

/** The PostgreSQL store's factory, loaded on first use so SQLite-only runs never load `pg`. */
export async function loadPostgresStore(): Promise<typeof createPostgresStore> {
  return (await import('#dist/queue/postgres/store.js')).createPostgresStore
}
