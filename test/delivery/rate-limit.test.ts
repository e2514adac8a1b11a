// RWX's 429 hold: how long it lasts, what lengthens it, and that it is logged once per hold.
import { describe, expect, it } from 'vitest'
import { createRateLimit, DEFAULT_RATE_LIMIT_MS } from '../../src/delivery/rate-limit.js'
import type { SetSecretsResult } from '../../src/delivery/rwx-client.js'

const slowDown = (retryAfterMs?: number): SetSecretsResult => ({
  kind: 'retry',
  status: 429,
  reason: 'RWX answered 429',
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
})

function logged(): { warn: (obj: object, msg: string) => void; lines: string[] } {
  const lines: string[] = []
  return { warn: (_obj, msg) => void lines.push(msg), lines }
}

describe('RWX rate limit (429)', () => {
  it('holds every request for the Retry-After, and for a second without one', () => {
    const log = logged()
    const limit = createRateLimit(log)
    expect(limit.waitMs(0)).toBe(0)
    expect(limit.until(0)).toBeUndefined()
    limit.record(slowDown(5_000), 1_000)
    expect(limit.waitMs(1_000)).toBe(5_000)
    expect(limit.until(2_000)).toBe(6_000)
    expect(limit.waitMs(6_000)).toBe(0)
    expect(limit.until(6_000)).toBeUndefined()
    limit.record(slowDown(), 10_000)
    expect(limit.until(10_000)).toBe(10_000 + DEFAULT_RATE_LIMIT_MS)
    expect(log.lines).toHaveLength(2)
  })

  it('ignores answers other than 429, and a 429 that ends sooner; logs a lengthened hold once', () => {
    const log = logged()
    const limit = createRateLimit(log)
    limit.record({ kind: 'retry', status: 503, reason: 'down', retryAfterMs: 9_000 }, 0)
    limit.record({ kind: 'ok', set: new Set(), versions: new Map() }, 0)
    expect(limit.waitMs(0)).toBe(0)
    limit.record(slowDown(5_000), 0)
    limit.record(slowDown(1_000), 1_000)
    expect(limit.until(1_000)).toBe(5_000)
    limit.record(slowDown(8_000), 2_000)
    expect(limit.until(2_000)).toBe(10_000)
    expect(log.lines).toEqual([expect.stringContaining('RWX asks to slow down (429)')])
  })
})
