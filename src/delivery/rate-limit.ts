// RWX's 429: every request to RWX waits out its Retry-After, not only the secrets of the request it answered.
import type { SetSecretsResult } from './rwx-client.js'

/** How long every request waits after a 429 that sends no Retry-After. */
export const DEFAULT_RATE_LIMIT_MS = 1_000

/** The hold RWX asked for with a 429, as the worker consults it before each request. */
export interface RateLimit {
  /** Takes one RWX answer: a 429 holds every request until its Retry-After (1 s without one). */
  record(result: SetSecretsResult, now: number): void
  /** Milliseconds the hold still lasts at `now`; 0 when nothing holds requests back. */
  waitMs(now: number): number
  /** When the hold ends (epoch ms), while it lasts at `now`; else undefined. */
  until(now: number): number | undefined
}

/** Creates the hold; the first 429 of a hold is logged, not each one that lengthens it. */
export function createRateLimit(log: { warn(obj: object, msg: string): void }): RateLimit {
  /** Until when RWX asked for no requests at all, epoch ms; 0 when it did not. */
  let limitedUntil = 0
  const waitMs = (now: number) => Math.max(0, limitedUntil - now)
  return {
    record(result, now) {
      if (result.kind !== 'retry' || result.status !== 429) return
      const until = now + (result.retryAfterMs ?? DEFAULT_RATE_LIMIT_MS)
      if (until <= limitedUntil) return
      if (limitedUntil <= now)
        log.warn(
          { retryAfterMs: until - now },
          'RWX asks to slow down (429): no request is sent to RWX until its Retry-After has passed',
        )
      limitedUntil = until
    },
    waitMs,
    until: (now) => (waitMs(now) > 0 ? limitedUntil : undefined),
  }
}
