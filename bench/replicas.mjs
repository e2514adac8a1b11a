// Ingest with 1, 2 and 3 relay replicas on one PostgreSQL database (bench/README, "Scaling with PostgreSQL
// replicas"): throughput, CPU and WAL per event, commits, and the waits PostgreSQL's backends show.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, relative } from 'node:path'
import pg from 'pg'
import { startFakeRwx } from '#tools/bench-entry.js'
import { fsyncLatency, watchProcess, withTimeout } from './lib.mjs'
import { runLoad, withOther } from './parts.mjs'
import { startPostgres, watchProcessTree } from './postgres.mjs'
import { cleanUpAtExit, cleanup, dir, newEncryptionKey, startRelay, state, storeFor } from './relay.mjs'
import { fmt } from './report.mjs'
import { LOAD_CPU, RESULTS, SERVER_CPU, settings, TOKEN } from './settings.mjs'

/** The replica counts to measure, in order (`BENCH_REPLICAS`). */
const COUNTS = (process.env.BENCH_REPLICAS ?? '1,2,3')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0)
/** How often PostgreSQL's backends are sampled for what they wait on (ms). */
const SAMPLE_MS = 200

cleanUpAtExit()

/** Counters of the database's server read at the start and end of the measured window. */
const SNAPSHOT = `SELECT pg_current_wal_lsn()::text AS lsn,
    (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::bigint AS commits,
    (SELECT xact_rollback FROM pg_stat_database WHERE datname = $1)::bigint AS rollbacks,
    (SELECT wal_records FROM pg_stat_wal)::bigint AS wal_records,
    (SELECT wal_fpi FROM pg_stat_wal)::bigint AS wal_fpi`
/** WAL fsyncs, from pg_stat_io (PostgreSQL 18; older servers have no 'wal' object there: null). */
const WAL_FSYNCS = `SELECT sum(fsyncs)::bigint AS fsyncs FROM pg_stat_io WHERE object = 'wal'`
/** What the database's active backends wait on right now ('CPU' when on no wait), and the locks not granted. */
const WAITS = `SELECT
    (SELECT json_agg(w) FROM (
       SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running') AS event, count(*)::int AS n
       FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1) w) AS waits,
    (SELECT json_agg(l) FROM (
       SELECT locktype || ':' || mode AS lock, count(*)::int AS n FROM pg_locks WHERE NOT granted GROUP BY 1) l) AS ungranted`

/**
 * The server's counters over a window and its backends' waits sampled every SAMPLE_MS: `mark()` starts
 * (synchronous, as runLoad calls it; the first read is awaited in `stop()`), `stop()` ends and sums up.
 */
async function watchDatabase(url, name) {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  const read = async () => {
    const { rows } = await client.query(SNAPSHOT, [name])
    const fsyncs = await client
      .query(WAL_FSYNCS)
      .then((r) => r.rows[0].fsyncs)
      .catch(() => null)
    return { ...rows[0], fsyncs, at: performance.now() }
  }
  let first
  let timer
  let samples = 0
  const ungranted = new Map()
  let sampling = Promise.resolve()
  const waits = new Map()
  const sample = async () => {
    const { rows } = await client.query(WAITS, [name])
    samples++
    for (const { event, n } of rows[0].waits ?? []) waits.set(event, (waits.get(event) ?? 0) + n)
    for (const { lock, n } of rows[0].ungranted ?? []) ungranted.set(lock, (ungranted.get(lock) ?? 0) + n)
  }
  return {
    mark() {
      first = read()
      timer = setInterval(() => {
        sampling = sampling.then(sample).catch(() => {})
      }, SAMPLE_MS)
    },
    async stop() {
      clearInterval(timer)
      await sampling
      const before = await first
      const after = await read()
      const { rows } = await client.query('SELECT pg_wal_lsn_diff($1, $2)::bigint AS bytes', [
        after.lsn,
        before.lsn,
      ])
      await client.end().catch(() => {})
      const seconds = (after.at - before.at) / 1000
      const delta = (key) => (after[key] === null ? Number.NaN : Number(after[key]) - Number(before[key]))
      const perSample = (n) => n / Math.max(1, samples)
      const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0)
      const busiestFirst = (m) =>
        Object.fromEntries([...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, perSample(n)]))
      return {
        seconds,
        walBytes: Number(rows[0].bytes),
        walRecords: delta('wal_records'),
        walFullPageImages: delta('wal_fpi'),
        commits: delta('commits'),
        rollbacks: delta('rollbacks'),
        walFsyncs: delta('fsyncs'),
        samples,
        // average number of the database's backends in each state over the samples, busiest first
        activeBackends: perSample(sum(waits)),
        waits: busiestFirst(waits),
        // locks asked for and not granted yet, by type and mode (e.g. 'tuple:ExclusiveLock', 'extend:...')
        ungrantedLocks: perSample(sum(ungranted)),
        ungrantedByLock: busiestFirst(ungranted),
      }
    },
  }
}

/** One run: `n` replicas of `vault-relay serve` on one fresh database, the load spread over them. */
async function runReplicas(n) {
  const { fake, postgres } = state
  const db = await storeFor('postgres')
  const name = new URL(db.url).pathname.slice(1)
  const encryptionKey = newEncryptionKey()
  const relays = []
  try {
    // one after the other: each migrates (or finds the schema done) under the advisory lock
    for (let i = 0; i < n; i++) {
      relays.push(await startRelay('postgres', fake.url, { url: db.url, encryptionKey, name: `r${i}` }))
    }
    fake.reset()
    const replicas = relays.map((r) => watchProcess(r.proc.child.pid))
    const server = postgres.pid === undefined ? undefined : watchProcessTree(postgres.pid)
    const database = await watchDatabase(db.url, name)
    const loadBefore = loadavg()[0]
    const load = await runLoad(
      relays.map((r) => r.url),
      `n${n}`,
      {
        mark() {
          for (const w of replicas) w.mark()
          server?.mark()
          database.mark()
        },
      },
    )
    const counters = await database.stop()
    const each = replicas.map((w) => w.stop())
    const pgCpu = server ? server.stop() : { cpuCores: Number.NaN }
    const duringRun = fake.writes.length
    const acceptedTotal = load.accepted + load.warmupAccepted
    const started = performance.now()
    await fake.waitFor((writes) => writes.length >= acceptedTotal, 30_000).catch(() => {})
    const drainMs = fake.writes.length >= acceptedTotal ? performance.now() - started : Number.NaN
    const relayCores = each.reduce((sum, r) => sum + r.cpuCores, 0)
    const events = load.accepted
    const perEvent = (x) => x / events
    return withOther({
      ...load,
      replicas: n,
      loadAverage: { before: loadBefore, after: loadavg()[0] },
      acceptedTotal,
      deliveredDuringRun: duringRun,
      deliveredTotal: fake.writes.length,
      rwxRequests: fake.requests.length,
      drainMsAfterLoad: drainMs,
      server: { cpuCores: relayCores },
      replicaCpuCores: each.map((r) => r.cpuCores),
      replicaPeakRssMiB: each.map((r) => r.peakRssMiB),
      database: pgCpu,
      postgres: counters,
      perEvent: {
        relayCpuUs: perEvent(relayCores * load.seconds * 1e6),
        postgresCpuUs: perEvent(pgCpu.cpuCores * load.seconds * 1e6),
        walBytes: perEvent(counters.walBytes),
        walRecords: perEvent(counters.walRecords),
        commits: perEvent(counters.commits),
      },
      commitsPerSecond: counters.commits / counters.seconds,
      walFsyncsPerSecond: counters.walFsyncs / counters.seconds,
    })
  } finally {
    await Promise.all(relays.map((r) => r.stop()))
    await db.drop()
  }
}

/** The table, a column per replica count (markdown, as bench/README shows it). */
function table(runs) {
  const rows = [
    [
      'connections (each replica)',
      (r) => `${settings.connections} (${fmt(settings.connections / r.replicas, 1)})`,
    ],
    ['accepted req/s', (r) => fmt(r.reqPerSec)],
    ['p50 / p99 ms', (r) => `${fmt(r.p50Ms)} / ${fmt(r.p99Ms)}`],
    ['non-2xx, errors', (r) => `${r.non2xx}, ${r.errors}`],
    ['relay cpu (cores, all replicas)', (r) => fmt(r.server.cpuCores, 2)],
    ['PostgreSQL cpu (cores)', (r) => fmt(r.database.cpuCores, 2)],
    ['relay cpu per request', (r) => `${fmt(r.perEvent.relayCpuUs)} µs`],
    ['PostgreSQL cpu per request', (r) => `${fmt(r.perEvent.postgresCpuUs)} µs`],
    ['WAL per event (records)', (r) => `${fmt(r.perEvent.walBytes)} B (${fmt(r.perEvent.walRecords, 1)})`],
    ['WAL full-page images', (r) => fmt(r.postgres.walFullPageImages)],
    ['commits/s (per event)', (r) => `${fmt(r.commitsPerSecond)} (${fmt(r.perEvent.commits, 2)})`],
    ['WAL fsyncs/s', (r) => fmt(r.walFsyncsPerSecond)],
    ['active backends (avg)', (r) => fmt(r.postgres.activeBackends, 2)],
    [
      'their waits (avg backends)',
      (r) =>
        Object.entries(r.postgres.waits)
          .slice(0, 4)
          .map(([event, n]) => `${event} ${fmt(n, 2)}`)
          .join(', '),
    ],
    [
      'ungranted locks (avg), which',
      (r) =>
        [
          fmt(r.postgres.ungrantedLocks, 2),
          ...Object.entries(r.postgres.ungrantedByLock)
            .slice(0, 3)
            .map(([lock, n]) => `${lock} ${fmt(n, 2)}`),
        ].join(', '),
    ],
    ['delivered during run / accepted', (r) => `${fmt(r.deliveredDuringRun)} / ${fmt(r.acceptedTotal)}`],
    ['RWX requests', (r) => fmt(r.rwxRequests)],
    ['load average (1 min), other cpu', (r) => `${fmt(r.loadAverage.before, 1)}, ${fmt(r.otherCpuCores, 2)}`],
  ]
  const head = `| replicas | ${runs.map((r) => r.replicas).join(' | ')} |`
  const line = `| --- | ${runs.map(() => '---:').join(' | ')} |`
  return [head, line, ...rows.map(([label, f]) => `| ${label} | ${runs.map(f).join(' | ')} |`)].join('\n')
}

async function main() {
  if (settings.pin)
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const fsync = fsyncLatency(dir)
  state.fake = await startFakeRwx({ token: TOKEN })
  process.stderr.write('replicas: starting PostgreSQL...\n')
  state.postgres = await startPostgres({ cpus: SERVER_CPU, flags: settings.pgFlags })
  const version = await state.postgres.version()
  const runs = []
  for (const n of COUNTS) {
    process.stderr.write(`replicas: ${n} relay replica(s) on one database...\n`)
    runs.push(await runReplicas(n))
  }
  const out = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      fsync4KiB: fsync,
    },
    settings: { ...settings, replicas: COUNTS, sampleMs: SAMPLE_MS },
    postgres: {
      version,
      embedded: state.postgres.embedded,
      pinned: state.postgres.embedded ? SERVER_CPU : null,
    },
    runs,
  }
  process.stdout.write(`\n${table(runs)}\n`)
  const json = `${JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`
  mkdirSync(RESULTS, { recursive: true })
  const file = join(RESULTS, 'replicas.json')
  writeFileSync(file, json)
  process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`)
}

try {
  await withTimeout(main(), 900_000, 'the replicas bench')
} catch (err) {
  process.stderr.write(`replicas bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await state.fake?.close().catch(() => {})
  await withTimeout(state.postgres?.close() ?? Promise.resolve(), 20_000, 'stopping PostgreSQL').catch(
    () => {},
  )
  cleanup()
}
process.exit()
