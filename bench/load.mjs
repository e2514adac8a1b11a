// The load generator (its own process): autocannon at N connections, every request a distinct, signed event,
// signed before the run starts (the first `presign` of them), so the generator spends its CPU on sending.
// With several `urls` (replicas) the connections are spread over them, an autocannon each, one sequence.
import autocannon from 'autocannon'
import { percentile, SIGNATURE_HEADER, signedBody } from './lib.mjs'

const { urls, path, secret, run, connections, warmupSeconds, durationSeconds, presign } = JSON.parse(
  process.argv[2],
)

/** Pre-built request bodies and headers, in order; past them each request is signed as it goes. */
const HEADERS = 'content-type'
const signed = Array.from({ length: presign ?? 0 }, (_, i) => {
  const { body, signature } = signedBody(secret, run, i)
  return { body, headers: { [HEADERS]: 'application/json', [SIGNATURE_HEADER]: signature } }
})

let n = 0

function next() {
  const i = n++
  const ready = signed[i]
  if (ready !== undefined) {
    signed[i] = undefined
    return ready
  }
  const { body, signature } = signedBody(secret, run, i)
  return { body, headers: { [HEADERS]: 'application/json', [SIGNATURE_HEADER]: signature } }
}

/** `connections` spread over the urls as evenly as they go (the first ones get the remainder). */
const shares = urls.map(
  (_, i) => Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0),
)

/** Runs autocannon for `seconds` on every url at once; the results summed (a single url: its own). */
async function load(seconds, record) {
  const latencies = []
  const runs = await Promise.all(urls.map((url, i) => loadOne(url, shares[i], seconds, record, latencies)))
  latencies.sort((a, b) => a - b)
  return { result: merged(runs), latencies }
}

/** Sums autocannon results of parallel runs: counts add up, the duration is the longest. */
function merged(runs) {
  if (runs.length === 1) return runs[0]
  const sum = (get) => runs.reduce((total, r) => total + (get(r) ?? 0), 0)
  /** @type {Record<string, { count: number }>} */
  const statusCodeStats = {}
  for (const r of runs) {
    for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) {
      statusCodeStats[code] = { count: (statusCodeStats[code]?.count ?? 0) + count }
    }
  }
  return {
    ...runs[0],
    duration: Math.max(...runs.map((r) => r.duration)),
    '2xx': sum((r) => r['2xx']),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statusCodeStats,
    requests: {
      ...runs[0].requests,
      total: sum((r) => r.requests.total),
      average: sum((r) => r.requests.average),
    },
    latency: { ...runs[0].latency, p50: Number.NaN, p99: Number.NaN },
  }
}

/** One autocannon for `seconds`; each request gets the next body, signed now (a few µs of HMAC). */
async function loadOne(url, connections, seconds, record, latencies) {
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path,
        setupRequest(req) {
          const { body, headers } = next()
          req.headers = headers
          req.body = body
          return req
        },
      },
    ],
  })
  // autocannon's own histogram has 1 ms resolution; keep every 2xx latency for sub-millisecond percentiles.
  if (record) {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms)
    })
  }
  return await instance
}

/** Sends the answer and exits once it is on its way (autocannon may leave handles behind). */
function reply(msg) {
  process.send(msg, () => process.exit(0))
}

try {
  const warmup = warmupSeconds > 0 ? (await load(warmupSeconds, false)).result : undefined
  // 202 means a new event was queued; a 200 here would be a duplicate, i.e. a bench bug.
  const warmupAccepted = warmup?.statusCodeStats['202']?.count ?? 0
  process.send({ type: 'measuring' })
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  const { result, latencies } = await load(durationSeconds, true)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const ok = result['2xx']
  reply({
    type: 'result',
    warmupAccepted,
    accepted: result.statusCodeStats['202']?.count ?? 0,
    seconds: result.duration ?? seconds,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: result.statusCodeStats,
    reqPerSec: ok / (result.duration ?? seconds),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    loadGeneratorCpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    autocannon: {
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      avgReqPerSec: result.requests.average,
    },
  })
} catch (err) {
  reply({ type: 'error', message: err instanceof Error ? err.message : String(err) })
}
