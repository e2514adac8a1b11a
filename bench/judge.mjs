// Judges each part of a run against the issues' targets: a PASS or MISS per target and store.
import { fmt } from './report.mjs'
import { measured, settings } from './settings.mjs'

/** The goals the bench judges a run by. */
export const TARGETS = {
  // issue 10: with the worker delivering meanwhile (SQLite 0.5 is the stretch); PostgreSQL also >= 2,000 req/s
  ratio: { sqlite: 0.35, postgres: 0.15 },
  postgresReqPerSec: 2_000,
  secretsPerSec: 5_000,
  requestsPer1000: 20,
  rssMiB: 150,
  latencyP99Ms: 50,
  burstMs: 10_000,
  outageIngestRatio: 0.8,
  // issue 20: an idle relay with an HMAC-only config
  idleRssMiB: 75,
}

/** Each target, judged on each store measured: `{ name, goal, sqlite?: {measured, value, pass}, postgres? }`. */
export function judge(ceiling, relay, alone, delivery, felt) {
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
      'idle relay RSS, HMAC source (MiB)',
      `< ${TARGETS.idleRssMiB}`,
      1,
      Object.fromEntries(measured(felt).flatMap((s) => (felt[s].idle ? [[s, felt[s].idle]] : []))),
      (i) => i.rssMiB,
      (v) => v < TARGETS.idleRssMiB,
    )
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
