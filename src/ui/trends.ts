// Small trends for the overview: the relay's counters sampled once a minute into a ring (a day long),
// so refusals by code over the last hour and day, and deliveries and refusals per minute, can be shown.
import type { Metrics } from '../metrics.js'

const MINUTE = 60_000
/** A day of one-minute samples. */
const RING = 24 * 60 + 1

interface Sample {
  at: number
  delivered: number
  refused: number
  /** Refusals by error code, summed over sources. */
  byCode: Map<string, number>
}

/** The counters as read now, against the samples: one read serves every view of a page. */
export interface TrendsNow {
  /** Refusals by code within `windowMs` before now (since the relay started, when it is younger). */
  refusalsByCode(windowMs: number): Map<string, number>
  /** Deliveries and refusals per minute over the last `minutes` minutes, oldest first. */
  perMinute(minutes: number): { delivered: number[]; refused: number[] }
}

export interface Trends {
  /** Takes a sample now (also done every minute while started). */
  sample(): Promise<void>
  /** Reads the counters now, for a page's views. */
  now(): Promise<TrendsNow>
  start(): void
  stop(): void
}

async function read(metrics: Metrics, at: number): Promise<Sample> {
  const [refusals, outcomes] = await Promise.all([metrics.refusals.get(), metrics.outcomes.get()])
  const byCode = new Map<string, number>()
  let refused = 0
  for (const v of refusals.values) {
    const code = String(v.labels.code ?? 'unknown')
    byCode.set(code, (byCode.get(code) ?? 0) + v.value)
    refused += v.value
  }
  const delivered = outcomes.values
    .filter((v) => v.labels.outcome === 'delivered')
    .reduce((n, v) => n + v.value, 0)
  return { at, delivered, refused, byCode }
}

/** Samples `metrics` with `clock`; the first sample (all zero) stands for the relay's start. */
export function createTrends(metrics: Metrics, clock: () => number): Trends {
  const ring: Sample[] = [{ at: clock(), delivered: 0, refused: 0, byCode: new Map() }]
  let timer: NodeJS.Timeout | undefined

  async function sample(): Promise<void> {
    ring.push(await read(metrics, clock()))
    if (ring.length > RING) ring.shift()
  }

  /** The oldest sample at or after `since` (the first when none is): a binary search, the ring is in time order. */
  function from(since: number): Sample {
    let lo = 0
    let hi = ring.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (ring[mid]!.at >= since) hi = mid
      else lo = mid + 1
    }
    return ring[lo]!.at >= since ? ring[lo]! : ring[0]!
  }

  return {
    sample,
    async now() {
      const now = await read(metrics, clock())
      return {
        refusalsByCode(windowMs) {
          const base = from(now.at - windowMs)
          const out = new Map<string, number>()
          for (const [code, n] of now.byCode) {
            const d = n - (base.byCode.get(code) ?? 0)
            if (d > 0) out.set(code, d)
          }
          return out
        },
        perMinute(minutes) {
          const delivered: number[] = []
          const refused: number[] = []
          for (let i = minutes; i > 0; i--) {
            const start = from(now.at - i * MINUTE)
            const end = i === 1 ? now : from(now.at - (i - 1) * MINUTE)
            delivered.push(Math.max(0, end.delivered - start.delivered))
            refused.push(Math.max(0, end.refused - start.refused))
          }
          return { delivered, refused }
        },
      }
    },
    start() {
      timer ??= setInterval(() => void sample().catch(() => {}), MINUTE)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
