// The delivery run (its own process): queue N secrets in SQLite or PostgreSQL, then time the real worker
// draining them to RWX.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  configSchema,
  createDeliveryWorker,
  createLogger,
  createPauseSwitch,
  createRwxClient,
  createSealer,
  createSqliteStore,
  loadPostgresStore,
  USER_AGENT,
  valueAad,
} from '#tools/bench-entry.js'
import { memoryOf, VAULTS, withTimeout } from './lib.mjs'

const {
  store: storeOption,
  dir,
  rwxUrl,
  token,
  secrets: total,
  chunk,
  timeoutMs,
} = JSON.parse(process.argv[2])

/** `sqlite`: a file in `dir`; else the PostgreSQL URL, with the relay's default pool, as `serve` opens it. */
async function openStore(poolSize) {
  if (storeOption === 'sqlite') return createSqliteStore({ path: join(dir, 'delivery.db') })
  const createPostgresStore = await loadPostgresStore()
  return createPostgresStore({ url: storeOption, poolSize })
}

function reply(msg) {
  process.send(msg, () => process.exit(0))
}

async function main() {
  // The relay's own defaults (batchSize 100, batchWindowMs 25, concurrency 4...), as `serve` would use them.
  const defaults = configSchema.parse({})
  const config = defaults.delivery
  const store = await openStore(defaults.postgres.poolSize)
  const sealer = createSealer(randomBytes(32))

  // One secret per event, vaults interleaved the way webhooks arrive; `chunk` enqueues at a time (SQLite
  // group-commits them, PostgreSQL runs them on its pool, a transaction each).
  const enqueueStarted = performance.now()
  const now = Date.now()
  for (let from = 0; from < total; from += chunk) {
    const batch = []
    for (let i = from; i < Math.min(total, from + chunk); i++) {
      const vault = `vault-${i % VAULTS}`
      const name = `SECRET_${i}`
      const value = `${randomBytes(12).toString('base64url')}-${i}`
      batch.push(
        store.enqueue({
          source: 'bench',
          eventId: `evt-${i}`,
          eventTime: now,
          receivedAt: now,
          secrets: [
            {
              vault,
              name,
              description: 'bench',
              sealed: sealer.seal(value, valueAad(vault, name)),
              ref: null,
              fingerprint: sealer.fingerprint(value),
            },
          ],
        }),
      )
    }
    await Promise.all(batch)
  }
  const enqueueMs = performance.now() - enqueueStarted
  const queued = (await store.counts()).queued

  let delivered = 0
  let other = 0
  let requests = 0
  const sizes = []
  let allDone
  const finished = new Promise((resolve) => {
    allDone = resolve
  })
  const client = createRwxClient({
    url: rwxUrl,
    token: () => token,
    userAgent: USER_AGENT,
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
  })
  const worker = createDeliveryWorker({
    store,
    pause: createPauseSwitch({ store, clock: Date.now }),
    client,
    sealer,
    config,
    log: createLogger('warn'),
    owner: `bench:${process.pid}`,
    events: {
      onOutcome(kind) {
        if (kind === 'delivered') delivered++
        else other++
        if (delivered + other >= total) allDone()
      },
      onRequest(_status, n) {
        requests++
        sizes.push(n)
      },
    },
  })

  process.send({ type: 'delivering' })
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  worker.start()
  try {
    await withTimeout(finished, timeoutMs, `delivering ${total} secrets (delivered ${delivered})`)
  } finally {
    await worker.stop()
  }
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  const counts = await store.counts()
  const memory = memoryOf(process.pid)
  await client.close()
  await store.close()
  reply({
    type: 'result',
    store: store.kind,
    config: {
      ...(store.kind === 'postgres' ? { poolSize: defaults.postgres.poolSize } : {}),
      batchSize: config.batchSize,
      batchWindowMs: config.batchWindowMs,
      concurrency: config.concurrency,
    },
    secrets: total,
    queuedBefore: queued,
    enqueueMs,
    ms,
    delivered,
    otherOutcomes: other,
    counts,
    secretsPerSec: (delivered / ms) * 1000,
    cpuCores: (cpu.user + cpu.system) / 1000 / ms,
    requests,
    requestsPer1000: (requests / delivered) * 1000,
    batchSizes: { min: Math.min(...sizes), max: Math.max(...sizes), mean: delivered / requests },
    memory,
  })
}

main().catch((err) => reply({ type: 'error', message: err instanceof Error ? err.stack : String(err) }))
