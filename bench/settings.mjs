// The bench's settings (from BENCH_* environment variables), its fixed paths and the stores it knows.
import { cpus } from 'node:os'
import { hasTaskset } from './lib.mjs'

const env = process.env
export const STORES = ['sqlite', 'postgres']
export const STORE_NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' }

/** The stores measured in `byStore` ({ sqlite?, postgres? }), in table order. */
export const measured = (byStore) => STORES.filter((s) => byStore?.[s] !== undefined)

/** Every setting of the run (recorded in its JSON); README.md lists the variables. */
export const settings = {
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
  // A subset of 'ingest,delivery,latency,burst,outage,idle' while working on some (targets of skipped
  // parts are not judged).
  only: (env.BENCH_ONLY ?? 'ingest,delivery,latency,burst,outage,idle').split(','),
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
  // The idle relay ('idle'): how long it sits without traffic before its RSS is read.
  idleSeconds: Number(env.BENCH_IDLE_SECONDS ?? 5),
  latencyWarmupSeconds: Number(env.BENCH_LATENCY_WARMUP ?? 1),
  burstEvents: Number(env.BENCH_BURST_EVENTS ?? 10_000),
  burstConnections: Number(env.BENCH_BURST_CONNECTIONS ?? 200),
  burstStores: (env.BENCH_BURST_STORES ?? 'sqlite').split(','),
  outageEvents: Number(env.BENCH_OUTAGE_EVENTS ?? 100_000),
  outageStores: (env.BENCH_OUTAGE_STORES ?? 'sqlite').split(','),
  // Longest wait for the backlog once RWX is back (retries wait out their backoff, up to 5 min each).
  outageDrainSeconds: Number(env.BENCH_OUTAGE_DRAIN_SECONDS ?? 60),
  // The relays' delivery.batchWindowMs (ms; unset: the relay's default, 25).
  batchWindowMs: env.BENCH_BATCH_WINDOW_MS === undefined ? undefined : Number(env.BENCH_BATCH_WINDOW_MS),
  // Extra PostgreSQL server flags (embedded server only), e.g. '-c synchronous_commit=off'.
  pgFlags: (env.BENCH_PG_FLAGS ?? '').split(' ').filter(Boolean),
}
export const SERVER_CPU = settings.pin ? '1' : undefined
export const LOAD_CPU = settings.pin ? '0' : undefined
export const TOKEN = 'bench-rwx-token'
export const CLI = new URL('../dist/cli.js', import.meta.url).pathname
/** The node flags the relay ships with (`npm start`, the Dockerfile's CMD): the relay runs and delivery runs use them. */
export const RELAY_NODE_FLAGS = ['--max-semi-space-size=4']
export const RESULTS = new URL('./results/', import.meta.url).pathname
export const BASELINE = new URL('./baseline.json', import.meta.url).pathname

/** Variables whose default a full run keeps: only such a run replaces the committed baseline. */
const STANDARD = [
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
  'BENCH_IDLE_SECONDS',
  'BENCH_BATCH_WINDOW_MS',
]

/** True when a run measured every part on both stores with the default load (it replaces the baseline). */
export function isStandardRun({ relay, delivery, felt }) {
  const full = relay && delivery && felt && STORES.every((s) => settings.stores.includes(s))
  return Boolean(full) && STANDARD.every((k) => env[k] === undefined)
}
