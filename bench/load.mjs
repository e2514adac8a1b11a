// The load generator (its own process): autocannon at N connections, every request a distinct, signed event,
// signed before the run starts (the first `presign` of them), so the generator spends its CPU on sending.
import autocannon from 'autocannon'
import { percentile, SIGNATURE_HEADER, signedBody } from './lib.mjs'

const { url, path, secret, run, connections, warmupSeconds, durationSeconds, presign } = JSON.parse(
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

/** Runs autocannon for `seconds`; each request gets the next body, signed now (a few µs of HMAC). */
async function load(seconds, record) {
  const latencies = []
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
  const result = await instance
  latencies.sort((a, b) => a - b)
  return { result, latencies }
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
