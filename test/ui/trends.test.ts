// The overview's trends: the relay's real counters sampled on a stepped clock, read back as refusals by
// code within a window and per-minute deliveries and refusals.
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/metrics.js'
import type { Store } from '../../src/queue/store.js'
import { createTrends } from '../../src/ui/trends.js'

const MINUTE = 60_000

describe('console trends', () => {
  it('counts refusals by code within a window and per minute, from one read of the counters', async () => {
    let now = 1_000_000
    // the counters read here never collect from the store
    const metrics = createMetrics({} as Store)
    const trends = createTrends(metrics, () => now)
    metrics.refusals.inc({ source: 'a', code: 'ERR_SIGNATURE' }, 3)
    metrics.outcomes.inc({ outcome: 'delivered' }, 4)
    now += MINUTE
    await trends.sample()
    metrics.refusals.inc({ source: 'b', code: 'ERR_SIGNATURE' })
    metrics.refusals.inc({ source: 'a', code: 'ERR_PAYLOAD' })
    metrics.outcomes.inc({ outcome: 'retry' }, 7)
    metrics.outcomes.inc({ outcome: 'delivered' })
    now += MINUTE / 2
    const read = await trends.now()
    // since the start (the relay is younger than an hour)
    expect(read.refusalsByCode(60 * MINUTE)).toEqual(
      new Map([
        ['ERR_SIGNATURE', 4],
        ['ERR_PAYLOAD', 1],
      ]),
    )
    // since the sample a minute in
    expect(read.refusalsByCode(MINUTE / 2)).toEqual(
      new Map([
        ['ERR_SIGNATURE', 1],
        ['ERR_PAYLOAD', 1],
      ]),
    )
    expect(read.perMinute(2)).toEqual({ delivered: [4, 1], refused: [3, 2] })
    // the read is of its instant: counts after it are not in it
    metrics.refusals.inc({ source: 'a', code: 'ERR_PAYLOAD' })
    expect(read.refusalsByCode(MINUTE / 2).get('ERR_PAYLOAD')).toBe(1)
    expect((await trends.now()).refusalsByCode(MINUTE / 2).get('ERR_PAYLOAD')).toBe(2)
  })
})
