// Backoff policy: exponential growth, full jitter, the cap, and Retry-After.
import { describe, expect, it } from 'vitest'
import { backoffMs, parseRetryAfter, retryDelayMs } from '../../src/delivery/backoff.js'

const policy = { baseMs: 100, maxMs: 5_000 }
const top = () => 0.999_999

describe('backoff', () => {
  it('doubles the ceiling per attempt', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, policy, top))).toEqual([99, 199, 399, 799])
  })

  it('never goes above maxMs, even after many attempts', () => {
    expect(backoffMs(10, policy, top)).toBe(4_999)
    expect(backoffMs(10_000, policy, top)).toBe(4_999)
  })

  it('spreads delays with full jitter between 0 and the ceiling', () => {
    expect(backoffMs(3, policy, () => 0)).toBe(0)
    expect(backoffMs(3, policy, () => 0.5)).toBe(200)
    const seen = new Set(Array.from({ length: 50 }, () => backoffMs(5, policy)))
    expect(seen.size).toBeGreaterThan(10)
    for (const d of seen) expect(d).toBeLessThan(1_600)
  })

  it('waits at least what Retry-After asks', () => {
    expect(retryDelayMs(1, policy, 3_000, top)).toBe(3_000)
    expect(retryDelayMs(10, policy, 10, top)).toBe(4_999)
    expect(retryDelayMs(1, policy, undefined, () => 0.5)).toBe(50)
  })

  it('caps an absurd Retry-After', () => {
    expect(retryDelayMs(1, policy, 30 * 86_400_000, top)).toBe(3_600_000)
    expect(retryDelayMs(1, { ...policy, retryAfterCapMs: 60_000 }, 600_000, top)).toBe(60_000)
  })

  it('parses Retry-After seconds and HTTP-dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter(['5', '9'], now)).toBe(5_000)
  })
})
