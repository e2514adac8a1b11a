// Starts the relay under test (`vault-relay serve` from dist/) on a fresh store, and owns the bench's
// shared state: its temp dir, signing secret, fake RWX and PostgreSQL server, cleaned up however it ends.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  freePort,
  killAll,
  SIGNATURE_HEADER,
  SIGNATURE_PREFIX,
  startChild,
  stopChild,
  watchProcess,
  withTimeout,
} from './lib.mjs'
import { destroyPostgresSync, watchProcessTree } from './postgres.mjs'
import { CLI, RELAY_NODE_FLAGS, SERVER_CPU, settings, TOKEN } from './settings.mjs'

const env = process.env
/** The temp dir of the run: configs, SQLite files, removed at exit. */
export const dir = mkdtempSync(join(tmpdir(), 'vault-relay-bench-'))
/** The HMAC secret the load generators sign with and the relay verifies. */
export const secret = randomBytes(24).toString('hex')
/** What main() starts and the parts use: the fake RWX, and the PostgreSQL server of the postgres runs
 * (embedded, or the one BENCH_DATABASE_URL names). */
export const state = { fake: undefined, postgres: undefined }
/** Databases made for postgres runs and not dropped yet (a signal drops them: the server may be yours). */
const databases = new Set()

/** Synchronous, so it also runs on 'exit' whatever ended the bench: children, PostgreSQL, temp dirs. */
export function cleanup() {
  killAll()
  destroyPostgresSync()
  rmSync(dir, { recursive: true, force: true })
}

/** Cleans up on exit and on SIGINT or SIGTERM (PostgreSQL left clean and stopped when it can be). */
export function cleanUpAtExit() {
  process.on('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killAll()
      // PostgreSQL is left clean and stopped if it can be within a few seconds; 'exit' does the rest.
      const stopped = async () => {
        await Promise.all([...databases].map((db) => db.drop().catch(() => {})))
        await state.postgres?.close()
      }
      withTimeout(stopped(), 10_000, 'stopping PostgreSQL')
        .catch(() => {})
        .finally(() => process.exit(130))
    })
  }
}

/** Watches the relay process and, when it is ours to measure, the PostgreSQL server under it. */
export function watchServer(pid, store) {
  const relay = watchProcess(pid)
  const db =
    store === 'postgres' && state.postgres.pid !== undefined
      ? watchProcessTree(state.postgres.pid)
      : undefined
  return {
    mark() {
      relay.mark()
      db?.mark()
    },
    stop() {
      const server = relay.stop()
      if (store !== 'postgres') return { server }
      return { server, database: db ? db.stop() : { cpuCores: Number.NaN } }
    },
  }
}

/** SQLite runs so far: each names its file. */
let sqliteRuns = 0

/**
 * A fresh, empty store for one run: each SQLite run gets a file of its own (a relay that found the
 * previous run's backlog would be measuring that backlog's delivery), removed with its WAL and key after.
 */
export async function storeFor(store, sqliteFile = 'delivery.db') {
  if (store === 'sqlite') {
    const path = join(dir, `${++sqliteRuns}-${sqliteFile}`)
    const drop = async () => {
      for (const suffix of ['', '-wal', '-shm', '.key']) rmSync(`${path}${suffix}`, { force: true })
    }
    return { url: `sqlite:${path}`, drop }
  }
  const db = await state.postgres.createDatabase()
  databases.add(db)
  return {
    url: db.url,
    drop: () => {
      databases.delete(db)
      return db.drop().catch(() => {})
    },
  }
}

/** The relay's config for a run: one HMAC source mapping each event to one secret. */
function relayConfig(port, rwxUrl, storeUrl, encryptionKey) {
  return `# vault-relay bench config (generated)
rwx: { url: "${rwxUrl}", token: "${TOKEN}" }
store: "${storeUrl}"
encryptionKey: "${encryptionKey}"
server: { host: 127.0.0.1, port: ${port} }
logLevel: warn
rateLimit: { max: 0 }
${settings.batchWindowMs === undefined ? '' : `delivery: { batchWindowMs: ${settings.batchWindowMs} }\n`}sources:
  - id: bench
    verify: { type: hmac, header: ${SIGNATURE_HEADER}, prefix: "${SIGNATURE_PREFIX}", secrets: ["${secret}"] }
    rules:
      - when: { /type: secret.rotated }
        secrets:
          - vault: "{{ /vault }}"
            name: "{{ /name }}"
            value: /value
            description: "bench {{ /name | lower }}"
`
}

/** Resolves once the relay answers /readyz; throws with its output if it exits or takes over 15 s. */
async function waitReady(url, proc) {
  const end = Date.now() + 15_000
  while (Date.now() < end) {
    if (proc.child.exitCode !== null) break
    try {
      const res = await fetch(`${url}/readyz`)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`the relay did not become ready:\n${proc.output()}`)
}

/** A fresh encryption key for a relay's config (replicas of one store share one). */
export const newEncryptionKey = () => randomBytes(32).toString('base64')

/**
 * Starts `vault-relay serve` on `store` delivering to `rwxUrl`; ready when resolved. By default on a fresh
 * database or file of its own, dropped when it stops; `replicaOf` (`{ url, encryptionKey, name }`) starts
 * it as a replica on a store the caller owns (and drops), with the key every replica of it shares.
 * @param {string} store
 * @param {string} rwxUrl
 * @param {{ url: string, encryptionKey: string, name: string }} [replicaOf]
 */
export async function startRelay(store, rwxUrl, replicaOf) {
  const port = await freePort()
  const owned = replicaOf ? undefined : await storeFor(store, 'relay.db')
  const config = join(dir, `relay-${store}${replicaOf ? `-${replicaOf.name}` : ''}.yaml`)
  writeFileSync(
    config,
    relayConfig(port, rwxUrl, replicaOf?.url ?? owned.url, replicaOf?.encryptionKey ?? newEncryptionKey()),
  )
  const spawned = performance.now()
  const proc = startChild(process.execPath, [...RELAY_NODE_FLAGS, ...settings.nodeArgs, CLI, 'serve'], {
    cwd: dir,
    cpus: SERVER_CPU,
    env: { PATH: env.PATH ?? '', RELAY_CONFIG: config, NODE_ENV: 'production' },
  })
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    await stopChild(proc, { graceMs: 15_000 })
    await owned?.drop()
  }
  try {
    await waitReady(url, proc)
  } catch (err) {
    await stop()
    throw err
  }
  // From spawning `vault-relay serve` to its first 200 on /readyz (polled every 50 ms).
  const readyMs = performance.now() - spawned
  return { url, proc, stop, readyMs }
}
