// The circuit breaker for RWX: after repeated 5xx or network failures, one probe at a time until RWX answers.
import type { SetSecretsResult } from './rwx-client.js'

export interface BreakerOptions {
  /** Failed requests in a row (5xx, network) that open the breaker; 0 never opens it. */
  threshold: number
  /** Wait before the first probe; doubled after each failed probe up to `probeMaxMs`. */
  probeMs: number
  probeMaxMs: number
  /**
   * Cap on the wait after a probe that never reached RWX (connection refused, connect timeout, DNS):
   * such a probe costs RWX nothing, so the worker looks again soon and drains within seconds of RWX
   * listening again. The doubling goes on underneath: an RWX that answers 5xx waits up to `probeMaxMs`.
   */
  connectProbeMaxMs: number
}

/** What `/readyz`, the admin API and metrics show. */
export interface BreakerStatus {
  state: 'closed' | 'open'
  /** Failed requests in a row. */
  failures: number
  /** When the breaker opened (epoch ms), while open. */
  openedAt?: number
  /** When the next probe may go (epoch ms), while open. */
  nextProbeAt?: number
}

export interface Breaker {
  isOpen(): boolean
  /** Milliseconds until a probe may be sent; 0 when closed or when a probe is due. */
  waitMs(now: number): number
  /** How many secrets the next claim may take: one (the probe) while open, else `full`. */
  claimLimit(full: number): number
  /** Takes one RWX answer; returns 'opened' or 'closed' when that changed the state. */
  record(result: SetSecretsResult, now: number): 'opened' | 'closed' | undefined
  status(): BreakerStatus
}

/**
 * A 5xx or a transport failure says RWX is unwell; any other answer (200, 400, 401, 404) says it is up.
 * 408 and 429 are neither: RWX is up but asks for patience, and Retry-After already spaces the retries.
 */
function verdict(result: SetSecretsResult): 'failure' | 'success' | 'neutral' {
  if (result.kind !== 'retry') return 'success'
  if (result.status === undefined || result.status >= 500) return 'failure'
  return result.status === 408 || result.status === 429 ? 'neutral' : 'success'
}

/** A failure before anything reached RWX: no status, and not a request that may have gone out. */
function unreached(result: SetSecretsResult): boolean {
  return result.kind === 'retry' && result.status === undefined && result.uncertain !== true
}

/** Creates a closed breaker. */
export function createBreaker(options: BreakerOptions): Breaker {
  let failures = 0
  let openedAt: number | undefined
  let nextProbeAt = 0
  let probeDelay = options.probeMs

  const isOpen = () => openedAt !== undefined

  function schedule(now: number, retryAfterMs: number | undefined, unreached: boolean): void {
    const delay = unreached ? Math.min(probeDelay, options.connectProbeMaxMs) : probeDelay
    nextProbeAt = now + Math.max(delay, retryAfterMs ?? 0)
    probeDelay = Math.min(probeDelay * 2, options.probeMaxMs)
  }

  return {
    isOpen,
    waitMs: (now) => (isOpen() ? Math.max(0, nextProbeAt - now) : 0),
    claimLimit: (full) => (isOpen() ? 1 : full),
    record(result, now) {
      const v = verdict(result)
      const retryAfterMs = result.kind === 'retry' ? result.retryAfterMs : undefined
      if (v === 'success') {
        failures = 0
        if (!isOpen()) return undefined
        openedAt = undefined
        probeDelay = options.probeMs
        return 'closed'
      }
      if (v === 'neutral') {
        if (isOpen()) schedule(now, retryAfterMs, false)
        return undefined
      }
      failures++
      if (isOpen()) {
        schedule(now, retryAfterMs, unreached(result))
        return undefined
      }
      if (options.threshold === 0 || failures < options.threshold) return undefined
      openedAt = now
      schedule(now, retryAfterMs, unreached(result))
      return 'opened'
    },
    status() {
      return isOpen()
        ? { state: 'open', failures, openedAt: openedAt as number, nextProbeAt }
        : { state: 'closed', failures }
    },
  }
}
