// What a user feels, measured from this process against a running relay: propagation latency at a steady
// rate, a burst at many connections, and an RWX outage with its backlog. Each uses the relay it is given.
import { Pool } from 'undici'
import { percentile, SIGNATURE_HEADER, signedBody } from './lib.mjs'

const PATH = '/hooks/bench'

/** The name the n-th body of `run` queues (lib.mjs signedBody). */
const nameOf = (run, n) => `K_${run}_${n}`

/** Sends the n-th signed event; resolves with its status, the time its answer came (epoch ms) and Retry-After. */
async function send(pool, secret, run, n) {
  const { body, signature } = signedBody(secret, run, n)
  const res = await pool.request({
    method: 'POST',
    path: PATH,
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
    body,
  })
  const at = Date.now()
  const retryAfter = res.headers['retry-after']
  await res.body.dump()
  return { status: res.statusCode, at, retryAfter }
}

/**
 * Follows the fake's writes of the accepted names (read incrementally: the fake checks a wait's
 * condition on every request). `latencies()`: RWX's arrival time minus the 202's per name, ms, sorted (of the names `which` picks).
 */
function tracker(fake, accepted) {
  let seen = 0
  const first = new Map()
  const update = () => {
    for (; seen < fake.writes.length; seen++) {
      const w = fake.writes[seen]
      if (accepted.has(w.name) && !first.has(w.name)) first.set(w.name, w.at)
    }
    return first
  }
  return {
    all: () => update().size >= accepted.size,
    delivered: () => update().size,
    latencies: (/** @type {(name: string) => boolean} */ which = () => true) =>
      [...update()]
        .filter(([name]) => which(name))
        .map(([name, at]) => Math.max(0, at - accepted.get(name)))
        .sort((a, b) => a - b),
    times: () => [...update().values()],
  }
}

/**
 * Propagation latency: `rate` events a second for `warmupSeconds` and then `seconds`, each sent at its
 * time (open loop: a slow answer does not delay the next send), from the 202 to the fake RWX storing that
 * secret. The steady numbers are over the events after the warm-up; `warmup` has those of the fresh
 * relay's first events apart (what a replica that just started shows).
 */
export async function steadyLatency({ url, secret, run, fake, rate, seconds, warmupSeconds = 1 }) {
  const pool = new Pool(url, { connections: 64 })
  const accepted = new Map()
  const warm = Math.round(rate * warmupSeconds)
  const total = warm + Math.round(rate * seconds)
  const started = performance.now()
  let failed = 0
  /** What the answers that were not 202 were: status or error code -> count. */
  const statuses = {}
  const inFlight = []
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    inFlight.push(
      send(pool, secret, run, n).then(
        (r) => {
          if (r.status === 202) accepted.set(nameOf(run, n), r.at)
          else {
            failed++
            statuses[r.status] = (statuses[r.status] ?? 0) + 1
          }
        },
        (err) => {
          failed++
          statuses[err.code ?? 'error'] = (statuses[err.code ?? 'error'] ?? 0) + 1
        },
      ),
    )
  }
  await Promise.all(inFlight)
  const sentSeconds = (performance.now() - started) / 1000
  const seen = tracker(fake, accepted)
  await fake.waitFor(seen.all, 15_000).catch(() => {})
  await pool.close()
  const isWarmup = (name) => Number(name.slice(name.lastIndexOf('_') + 1)) < warm
  const ms = seen.latencies((name) => !isWarmup(name))
  const cold = seen.latencies(isWarmup)
  // Every write request of the run (warm-up included; the fake was reset for this relay) per 1,000 stored.
  const posts = fake.requests.filter((r) => r.method === 'POST').length
  return {
    rate,
    seconds,
    warmupSeconds,
    sent: total,
    achievedRate: total / sentSeconds,
    accepted: accepted.size,
    failed,
    statuses,
    delivered: ms.length + cold.length,
    rwxRequests: posts,
    rwxRequestsPer1000: fake.writes.length > 0 ? (posts * 1000) / fake.writes.length : Number.NaN,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms.at(-1) ?? Number.NaN,
    warmup: {
      events: cold.length,
      p50Ms: percentile(cold, 50),
      p99Ms: percentile(cold, 99),
      maxMs: cold.at(-1) ?? Number.NaN,
    },
  }
}

/**
 * A burst: `events` events at once over `connections` connections. Every answer should be 202 (or 503
 * with Retry-After when the relay sheds load), never a reset or a timeout; then the time until RWX has
 * every accepted one, counted from the burst's start.
 */
export async function burst({ url, secret, run, fake, events, connections }) {
  const pool = new Pool(url, { connections, headersTimeout: 30_000, bodyTimeout: 30_000 })
  const statuses = {}
  const errors = {}
  let shedWithoutRetryAfter = 0
  const accepted = new Map()
  const started = Date.now()
  await Promise.all(
    Array.from({ length: events }, (_, n) =>
      send(pool, secret, run, n).then(
        (r) => {
          statuses[r.status] = (statuses[r.status] ?? 0) + 1
          if (r.status === 202) accepted.set(nameOf(run, n), r.at)
          if (r.status === 503 && r.retryAfter === undefined) shedWithoutRetryAfter++
        },
        (err) => {
          const code = err?.code ?? err?.name ?? 'error'
          errors[code] = (errors[code] ?? 0) + 1
        },
      ),
    ),
  )
  const answeredMs = Date.now() - started
  await pool.close()
  let deliveredMs = Number.NaN
  const seen = tracker(fake, accepted)
  await fake.waitFor(seen.all, 30_000).catch(() => {})
  if (seen.all()) deliveredMs = Math.max(...seen.times()) - started
  const ms = seen.latencies()
  return {
    events,
    connections,
    statuses,
    errors,
    shedWithoutRetryAfter,
    accepted: accepted.size,
    answeredMs,
    delivered: ms.length,
    allDeliveredMs: deliveredMs,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
  }
}

/**
 * An RWX outage: `events` events sent as fast as `connections` connections go while RWX refuses
 * connections (ingest rate and the relay's peak RSS with that backlog come from the caller's watch),
 * then RWX comes back: how long until every accepted secret is stored (waiting `drainSeconds` at most),
 * and at what rate it drained.
 */
export async function outage({ url, secret, run, fake, events, connections, drainSeconds, onIngested }) {
  await fake.down()
  const pool = new Pool(url, { connections })
  const accepted = new Map()
  let failed = 0
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < events) {
        const n = next++
        try {
          const r = await send(pool, secret, run, n)
          if (r.status === 202) accepted.set(nameOf(run, n), r.at)
          else failed++
        } catch {
          failed++
        }
      }
    }),
  )
  const ingestSeconds = (performance.now() - started) / 1000
  await pool.close()
  const during = onIngested()
  fake.reset()
  await fake.up()
  const back = Date.now()
  const seen = tracker(fake, accepted)
  await fake.waitFor(seen.all, drainSeconds * 1000).catch(() => {})
  const times = seen.times()
  const first = times.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY)
  const last = times.reduce((a, b) => Math.max(a, b), 0)
  return {
    events,
    connections,
    accepted: accepted.size,
    failed,
    ingestSeconds,
    ingestPerSec: accepted.size / ingestSeconds,
    ...during,
    delivered: times.length,
    drainMsAfterReturn: seen.all() ? last - back : Number.NaN,
    firstWriteMsAfterReturn: times.length > 0 ? first - back : Number.NaN,
    drainPerSec: times.length > 1 ? (times.length / Math.max(1, last - first)) * 1000 : Number.NaN,
  }
}
