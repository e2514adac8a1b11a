// Retry timing for deliveries: exponential backoff with full jitter, and RWX's Retry-After honoured.

/** How retries spread out: the first delay is up to `baseMs`, doubling per attempt, never above `maxMs`. */
export interface BackoffPolicy {
  baseMs: number
  maxMs: number
  /**
   * Longest Retry-After obeyed, so a confused server cannot park the queue for days.
   * Default: the larger of `maxMs` and one hour.
   */
  retryAfterCapMs?: number
}

const HOUR_MS = 3_600_000
// 2^30 is far past any sensible cap; limiting the exponent keeps the arithmetic finite.
const MAX_EXPONENT = 30

/**
 * Delay before try number `attempt + 1`, after `attempt` failed tries (1 = the first failure).
 * Full jitter: uniformly random between 0 and min(maxMs, baseMs * 2^(attempt-1)), so many secrets
 * failing at once do not retry in lockstep.
 */
export function backoffMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), MAX_EXPONENT)
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent)
  return Math.floor(random() * ceiling)
}

/**
 * Delay before the next try, honouring a server's Retry-After: never sooner than it asked (up to
 * `retryAfterCapMs`), and never sooner than the backoff would wait anyway.
 */
export function retryDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const backoff = backoffMs(attempt, policy, random)
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return backoff
  const cap = policy.retryAfterCapMs ?? Math.max(policy.maxMs, HOUR_MS)
  return Math.max(backoff, Math.min(retryAfterMs, cap))
}

/**
 * Parses a Retry-After header (delay in seconds, or an HTTP-date) into milliseconds from `now`.
 * Returns undefined when absent or unreadable; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim()
  if (!raw) return undefined
  if (/^\d+$/.test(raw)) return Number(raw) * 1000
  const at = Date.parse(raw)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}
