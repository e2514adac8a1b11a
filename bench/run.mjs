// npm run bench: ingest ceiling vs relay at 50 connections, then delivery of 10,000 queued secrets; table + JSON.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { startFakeRwx } from '../dist/demo/fake-rwx.js'
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
  stopChild,
  watchProcess,
  withTimeout,
} from './lib.mjs'

const env = process.env
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
  // Extra node flags for the relay and delivery processes, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  // A subset of 'ingest,delivery' while working on one of them (targets of skipped parts are not judged).
  only: (env.BENCH_ONLY ?? 'ingest,delivery').split(','),
}
const SERVER_CPU = settings.pin ? '1' : undefined
const LOAD_CPU = settings.pin ? '0' : undefined
const TARGETS = { ratio: 0.6, secretsPerSec: 5_000, requestsPer1000: 20, rssMiB: 150 }
const TOKEN = 'bench-rwx-token'
const CLI = new URL('../dist/cli.js', import.meta.url).pathname
const RESULTS = new URL('./results/', import.meta.url).pathname
const BASELINE = new URL('./baseline.json', import.meta.url).pathname

const dir = mkdtempSync(join(tmpdir(), 'vault-relay-bench-'))
const secret = randomBytes(24).toString('hex')
let fake

function cleanup() {
  killAll()
  rmSync(dir, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanup()
    process.exit(130)
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

/** CPU used on the machine by processes other than the bench's own during the measured window. */
function withOther(r) {
  const own = r.server.cpuCores + r.loadGeneratorCpuCores + r.benchProcessCpuCores
  return { ...r, otherCpuCores: Math.max(0, r.machineBusyCores - own) }
}

async function benchCeiling() {
  const proc = startScript(
    'ceiling-server',
    { secret, header: SIGNATURE_HEADER, prefix: SIGNATURE_PREFIX },
    { cpus: SERVER_CPU },
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

function relayConfig(port, rwxUrl) {
  return `# vault-relay bench config (generated)
rwx: { url: "${rwxUrl}", token: "${TOKEN}" }
store: "sqlite:${join(dir, 'relay.db')}"
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

async function benchRelay() {
  const port = await freePort()
  const rwxUrl = settings.rwx === 'fake' ? fake.url : `http://127.0.0.1:${await freePort()}`
  const config = join(dir, 'relay.yaml')
  writeFileSync(config, relayConfig(port, rwxUrl))
  const proc = startChild(process.execPath, [...settings.nodeArgs, CLI, 'serve'], {
    cwd: dir,
    cpus: SERVER_CPU,
    env: { PATH: env.PATH ?? '', RELAY_CONFIG: config, NODE_ENV: 'production' },
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(url, proc)
    fake.reset()
    const watch = watchProcess(proc.child.pid)
    const load = await runLoad(url, 'r', watch)
    const server = watch.stop()
    const duringRun = fake.writes.length
    // Every 202 is one queued secret: how long the worker needs to catch up once the load stops.
    const acceptedTotal = load.accepted + load.warmupAccepted
    let drainMs = Number.NaN
    if (settings.rwx === 'fake') {
      const started = performance.now()
      await fake.waitFor((writes) => writes.length >= acceptedTotal, 30_000).catch(() => {})
      if (fake.writes.length >= acceptedTotal) drainMs = performance.now() - started
    }
    return withOther({
      ...load,
      rwx: settings.rwx,
      acceptedTotal,
      deliveredDuringRun: duringRun,
      deliveredTotal: fake.writes.length,
      rwxRequests: fake.requests.length,
      drainMsAfterLoad: drainMs,
      server,
    })
  } finally {
    await stopChild(proc, { graceMs: 15_000 })
  }
}

async function benchDelivery() {
  fake.reset()
  const proc = startScript(
    'delivery',
    {
      dir,
      rwxUrl: fake.url,
      token: TOKEN,
      secrets: settings.deliverySecrets,
      chunk: 500,
      timeoutMs: 60_000,
    },
    { nodeArgs: settings.nodeArgs, cpus: SERVER_CPU },
  )
  try {
    const { type: _, ...result } = await nextMessage(proc, 'result', 120_000)
    const vaults = new Set(fake.writes.map((w) => w.vault))
    return {
      ...result,
      rwxWrites: fake.writes.length,
      rwxRequestsSeen: fake.requests.length,
      vaults: vaults.size,
    }
  } finally {
    await stopChild(proc, { exitMs: 5_000 })
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

function ingestTable(ceiling, relay) {
  const rows = [
    ['ceiling (bare Fastify + HMAC)', ceiling],
    [`relay (serve, rwx=${relay.rwx})`, relay],
  ]
  return table([
    [
      'ingest',
      'req/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      '2xx',
      'non-2xx',
      'errors',
      'peak RSS MiB',
      'server cpu',
      'loadgen cpu',
    ],
    ...rows.map(([name, r]) => [
      name,
      fmt(r.reqPerSec),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.maxMs, 1),
      fmt(r.ok),
      fmt(r.non2xx),
      fmt(r.errors + r.timeouts),
      fmt(r.server.peakRssMiB, 1),
      fmt(r.server.cpuCores, 2),
      fmt(r.loadGeneratorCpuCores, 2),
      fmt(r.otherCpuCores, 2),
    ]),
  ])
}

function deliveryTable(d) {
  return table([
    ['delivery', 'secrets', 'ms', 'secrets/s', 'RWX requests', 'req/1000', 'mean batch', 'peak RSS MiB'],
    [
      `worker -> fake RWX (batch ${d.config.batchSize}, x${d.config.concurrency})`,
      fmt(d.delivered),
      fmt(d.ms),
      fmt(d.secretsPerSec),
      fmt(d.requests),
      fmt(d.requestsPer1000, 1),
      fmt(d.batchSizes.mean, 1),
      fmt(d.memory.peakRssMiB, 1),
    ],
  ])
}

function report(out) {
  const { ceiling, relay, delivery } = out
  const lines = [
    `vault-relay bench  ${out.date}  node ${out.machine.node}  ${out.machine.cpus}x ${out.machine.cpuModel}  ` +
      `fsync of 4 KiB in ${tmpdir()}: p50 ${fmt(out.machine.fsync4KiB.p50Ms, 2)} ms, p99 ${fmt(out.machine.fsync4KiB.p99Ms, 2)} ms`,
  ]
  if (relay) {
    lines.push(
      `load: autocannon in its own process, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ` +
        `${settings.durationSeconds} s; ${settings.pin ? 'server pinned to cpu 1, load generator and this process to cpu 0' : 'no cpu pinning'}`,
      '',
      ingestTable(ceiling, relay),
      '',
      `relay: ${fmt(relay.acceptedTotal)} secrets queued (202, warm-up included), ` +
        (relay.rwx === 'fake'
          ? `${fmt(relay.deliveredDuringRun)} delivered to RWX during the run, all delivered ${Number.isFinite(relay.drainMsAfterLoad) ? `${fmt(relay.drainMsAfterLoad)} ms after the load stopped` : 'NOT within 30 s after the load'} (${fmt(relay.rwxRequests)} RWX requests)`
          : 'none delivered (RWX down)') +
        `; relay/ceiling = ${fmt(out.ratio, 2)}`,
      ...(relay.accepted === relay.ok
        ? []
        : [`WARNING: ${fmt(relay.ok - relay.accepted)} relay 2xx answers were not 202`]),
      '',
    )
  }
  if (delivery) {
    lines.push(
      deliveryTable(delivery),
      `(queueing ${fmt(delivery.secrets)} secrets into SQLite first took ${fmt(delivery.enqueueMs)} ms; ` +
        `fake RWX stored ${fmt(delivery.rwxWrites)} in ${delivery.vaults} vaults)`,
      '',
    )
  }
  lines.push(
    table([
      ['target', 'goal', 'measured', ''],
      ...out.targets.map((t) => [t.name, t.goal, t.measured, t.pass ? 'PASS' : 'MISS']),
    ]),
  )
  return lines.join('\n')
}

function judge(ratio, relay, delivery) {
  const targets = []
  const add = (name, goal, value, digits, pass) =>
    targets.push({ name, goal, measured: fmt(value, digits), value, pass })
  if (relay) {
    add('ingest ratio relay/ceiling', `>= ${TARGETS.ratio}`, ratio, 2, ratio >= TARGETS.ratio)
    const rss = relay.server.peakRssMiB
    add('relay peak RSS, ingest run (MiB)', `< ${TARGETS.rssMiB}`, rss, 1, rss < TARGETS.rssMiB)
  }
  if (delivery) {
    const complete =
      delivery.delivered === settings.deliverySecrets && delivery.rwxWrites === settings.deliverySecrets
    const rate = delivery.secretsPerSec
    add(
      'delivery secrets/s',
      `>= ${fmt(TARGETS.secretsPerSec)}`,
      rate,
      0,
      complete && rate >= TARGETS.secretsPerSec,
    )
    const per1000 = delivery.requestsPer1000
    add(
      'RWX requests per 1,000 secrets',
      `<= ${TARGETS.requestsPer1000}`,
      per1000,
      1,
      per1000 <= TARGETS.requestsPer1000,
    )
    const rss = delivery.memory.peakRssMiB
    add('delivery process peak RSS (MiB)', `< ${TARGETS.rssMiB}`, rss, 1, rss < TARGETS.rssMiB)
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
  let ceiling
  let relay
  let delivery
  if (settings.only.includes('ingest')) {
    process.stderr.write('bench: ceiling (bare Fastify + HMAC)...\n')
    ceiling = await benchCeiling()
    process.stderr.write('bench: relay ingest (vault-relay serve)...\n')
    relay = await benchRelay()
  }
  if (settings.only.includes('delivery')) {
    process.stderr.write(`bench: delivery of ${fmt(settings.deliverySecrets)} queued secrets...\n`)
    delivery = await benchDelivery()
  }
  await fake.close()

  const ratio = relay ? relay.reqPerSec / ceiling.reqPerSec : undefined
  const out = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      fsync4KiB: fsync,
    },
    settings,
    ceiling,
    relay,
    ratio,
    delivery,
    targets: judge(ratio, relay, delivery),
    totalSeconds: (performance.now() - started) / 1000,
  }
  process.stdout.write(`\n${report(out)}\n\nbench took ${fmt(out.totalSeconds)} s\n`)
  // Three decimals are plenty and keep the committed baseline readable in a diff.
  const json = `${JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`
  mkdirSync(RESULTS, { recursive: true })
  const latest = join(RESULTS, 'latest.json')
  writeFileSync(latest, json)
  const files = [latest]
  // Only a full run replaces the committed baseline.
  if (relay && delivery) {
    writeFileSync(BASELINE, json)
    files.push(BASELINE)
  }
  await biomeFormat(files)
  process.stdout.write(`wrote ${files.map((f) => relative(process.cwd(), f)).join(' and ')}\n`)
}

try {
  await withTimeout(main(), 240_000, 'the whole benchmark')
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await fake?.close().catch(() => {})
  cleanup()
}
// A failed run can leave timers or sockets behind: the bench is over either way.
process.exit()
