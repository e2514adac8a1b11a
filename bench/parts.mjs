// The measured parts of the bench: the ingest ceiling, the relay's ingest, delivery of a queued backlog, and
// what a user feels (latency, burst, outage); each returns its numbers for the report and the judge.
import {
  freePort,
  machineCpu,
  memoryOf,
  nextMessage,
  SIGNATURE_HEADER,
  SIGNATURE_PREFIX,
  startScript,
  startSilentServer,
  stopChild,
  watchProcess,
} from './lib.mjs'
import { watchProcessTree } from './postgres.mjs'
import { dir, secret, startRelay, state, storeFor, watchServer } from './relay.mjs'
import { fmt } from './report.mjs'
import { burst, outage, steadyLatency } from './scenarios.mjs'
import { LOAD_CPU, RELAY_NODE_FLAGS, SERVER_CPU, STORE_NAMES, settings, TOKEN } from './settings.mjs'

/**
 * Runs the load generator against `url` (or, an array, the replicas behind those urls, the connections
 * spread over them) in its own process; `run` keeps bodies distinct across runs. `watch` (the server's)
 * starts its CPU count once the warm-up is over.
 * @param {string | string[]} url
 * @param {string} run
 * @param {{ mark(): void }} watch
 */
export async function runLoad(url, run, watch) {
  const proc = startScript(
    'load',
    {
      urls: Array.isArray(url) ? url : [url],
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
export function withOther(r) {
  const db = Number.isFinite(r.database?.cpuCores) ? r.database.cpuCores : 0
  const own = r.server.cpuCores + db + r.loadGeneratorCpuCores + r.benchProcessCpuCores
  return { ...r, otherCpuCores: Math.max(0, r.machineBusyCores - own) }
}

/** The ceiling: a bare Fastify server that only checks the HMAC, under the same load. */
export async function benchCeiling() {
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

/**
 * One ingest run of the relay on `store`. `rwx`: 'fake' (the worker delivers meanwhile), 'down' (a closed
 * port: the worker retries every secret) or 'silent' (RWX never answers: ingest alone).
 */
export async function benchRelay(store, rwx) {
  const { fake } = state
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
export async function benchFelt(store) {
  const { fake } = state
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
  if (settings.only.includes('idle')) {
    out.idle = await onRelay(
      `idle relay (${settings.idleSeconds} s without traffic)`,
      async ({ proc, readyMs }) => {
        await new Promise((r) => setTimeout(r, settings.idleSeconds * 1000))
        const memory = memoryOf(proc.child.pid)
        return {
          seconds: settings.idleSeconds,
          readyMs,
          rssMiB: memory?.rssMiB,
          peakRssMiB: memory?.peakRssMiB,
        }
      },
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

/** Delivery of a queued backlog by the real worker in its own process (bench/delivery.mjs). */
export async function benchDelivery(store) {
  const { fake, postgres } = state
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
