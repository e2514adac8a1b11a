// The RWX circuit breaker: when it opens, how probes are spaced, and what closes it.
import { describe, expect, it } from 'vitest'
import { createBreaker } from '../../src/delivery/breaker.js'
import type { SetSecretsResult } from '../../src/delivery/rwx-client.js'

const down: SetSecretsResult = { kind: 'retry', status: 503, reason: 'down' }
const refused: SetSecretsResult = { kind: 'retry', reason: 'RWX refused the connection (ECONNREFUSED)' }
const ok: SetSecretsResult = { kind: 'ok', set: new Set(), versions: new Map() }
const options = { threshold: 3, probeMs: 100, probeMaxMs: 400, connectProbeMaxMs: 400 }

describe('circuit breaker', () => {
  it('opens after `threshold` 5xx or network failures in a row, then allows one secret at a time', () => {
    const b = createBreaker(options)
    expect(b.record(down, 0)).toBeUndefined()
    expect(b.record(refused, 0)).toBeUndefined()
    expect(b.claimLimit(400)).toBe(400)
    expect(b.record(down, 1000)).toBe('opened')
    expect(b.isOpen()).toBe(true)
    expect(b.claimLimit(400)).toBe(1)
    expect(b.waitMs(1000)).toBe(100)
    expect(b.waitMs(1100)).toBe(0)
    expect(b.status()).toEqual({ state: 'open', failures: 3, openedAt: 1000, nextProbeAt: 1100 })
  })

  it('doubles the wait after each failed probe up to probeMaxMs, and honours a longer Retry-After', () => {
    const b = createBreaker(options)
    for (let i = 0; i < 3; i++) b.record(down, 0)
    b.record(down, 100)
    expect(b.waitMs(100)).toBe(200)
    b.record(down, 300)
    expect(b.waitMs(300)).toBe(400)
    b.record(down, 700)
    expect(b.waitMs(700)).toBe(400)
    b.record({ ...down, retryAfterMs: 5000 }, 1100)
    expect(b.waitMs(1100)).toBe(5000)
  })

  it('closes on any answer that shows RWX is up (200, 400, 401), not on 429', () => {
    for (const up of [
      ok,
      { kind: 'rejected', status: 400, reason: 'bad', refused: new Set<string>() } as const,
      { kind: 'auth', status: 401, reason: 'token' } as const,
    ]) {
      const b = createBreaker(options)
      for (let i = 0; i < 3; i++) b.record(down, 0)
      expect(b.record({ kind: 'retry', status: 429, reason: 'slow down' }, 10)).toBeUndefined()
      expect(b.isOpen()).toBe(true)
      expect(b.record(up, 20)).toBe('closed')
      expect(b.claimLimit(400)).toBe(400)
      expect(b.status()).toEqual({ state: 'closed', failures: 0 })
    }
  })

  it('counts failures in a row only: a success in between starts again', () => {
    const b = createBreaker(options)
    b.record(down, 0)
    b.record(down, 0)
    b.record(ok, 0)
    b.record(down, 0)
    b.record(down, 0)
    expect(b.isOpen()).toBe(false)
  })

  it('caps the wait after a probe that never reached RWX at connectProbeMaxMs, and keeps doubling beneath', () => {
    const b = createBreaker({ threshold: 3, probeMs: 1_000, probeMaxMs: 30_000, connectProbeMaxMs: 2_000 })
    for (let i = 0; i < 3; i++) b.record(refused, 0)
    expect(b.waitMs(0)).toBe(1_000)
    let now = 0
    for (let i = 0; i < 10; i++) {
      now += b.waitMs(now)
      b.record(refused, now)
      expect(b.waitMs(now)).toBeLessThanOrEqual(2_000)
    }
    // RWX listens again but answers 5xx: the doubled wait applies, up to probeMaxMs
    b.record(down, now)
    expect(b.waitMs(now)).toBe(30_000)
    // a request that may have gone out (a timeout after sending) is not a free probe either
    const b2 = createBreaker({ threshold: 1, probeMs: 10_000, probeMaxMs: 30_000, connectProbeMaxMs: 2_000 })
    b2.record({ ...refused, uncertain: true }, 0)
    expect(b2.waitMs(0)).toBe(10_000)
  })

  it('never opens with threshold 0', () => {
    const b = createBreaker({ ...options, threshold: 0 })
    for (let i = 0; i < 50; i++) b.record(down, 0)
    expect(b.isOpen()).toBe(false)
  })
})
