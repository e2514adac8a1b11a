// Webhooks refused before a source reads them (rate limited, unknown source): counted by a bounded label, logged in summaries.
import type { Counter } from 'prom-client'

/** The `source` label of a refusal for a name no source has: the caller's text never becomes a label. */
export const UNKNOWN_SOURCE_LABEL = 'unknown'

/** At most one log line per source and reason within this many milliseconds; the next says how many. */
const REFUSAL_LOG_INTERVAL_MS = 10_000

export type RefusalReason = 'rate_limited' | 'unknown_source'

const MESSAGES: Record<RefusalReason, string> = {
  rate_limited: 'hook refused: rate limited',
  unknown_source: 'hook refused: unknown source',
}

interface WarnLog {
  warn(obj: object, msg: string): void
}

export interface RefusalLogDeps {
  counter: Counter<'source' | 'reason'>
  log: WarnLog
  clock?: () => number
  intervalMs?: number
}

export interface RefusalLog {
  /**
   * Counts one refusal. `source` must be a configured source id or UNKNOWN_SOURCE_LABEL; `example` is a
   * short sample of the caller's text, kept for the next log line only.
   */
  refused(source: string, reason: RefusalReason, example?: string): void
  /** Logs what is pending and stops the timers (the app's onClose). */
  close(): void
}

interface Entry {
  source: string
  reason: RefusalReason
  pending: number
  example?: string | undefined
  loggedAt?: number
  timer?: NodeJS.Timeout | undefined
}

/**
 * The first refusal of a source and reason is logged at once; those within the next interval are
 * counted and logged in one line when it ends (`refused`: how many since the previous line). The keys
 * are configured sources and `unknown`, so the map stays small whatever callers send.
 */
export function createRefusalLog(deps: RefusalLogDeps): RefusalLog {
  const clock = deps.clock ?? Date.now
  const interval = deps.intervalMs ?? REFUSAL_LOG_INTERVAL_MS
  const entries = new Map<string, Entry>()

  const flush = (e: Entry) => {
    if (e.timer !== undefined) clearTimeout(e.timer)
    e.timer = undefined
    if (e.pending === 0) return
    deps.log.warn(
      {
        source: e.source,
        reason: e.reason,
        refused: e.pending,
        intervalSeconds: interval / 1000,
        ...(e.example === undefined ? {} : { example: e.example }),
      },
      MESSAGES[e.reason],
    )
    e.loggedAt = clock()
    e.pending = 0
    e.example = undefined
  }

  return {
    refused(source, reason, example) {
      deps.counter.inc({ source, reason })
      const key = `${reason}\0${source}`
      let e = entries.get(key)
      if (e === undefined) {
        e = { source, reason, pending: 0 }
        entries.set(key, e)
      }
      e.pending += 1
      if (e.example === undefined && example !== undefined) e.example = example
      if (e.timer !== undefined) return
      const since = e.loggedAt === undefined ? Number.POSITIVE_INFINITY : clock() - e.loggedAt
      if (since >= interval) flush(e)
      else {
        const entry = e
        e.timer = setTimeout(() => flush(entry), interval - since)
        e.timer.unref()
      }
    },
    close() {
      for (const e of entries.values()) flush(e)
    },
  }
}
