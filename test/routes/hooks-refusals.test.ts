import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMetrics } from '../../src/metrics.js'
import { createRefusalLog } from '../../src/routes/refusals.js'
import { type Harness, startHarness } from '../support/app-harness.js'

const config = `
rateLimit: { max: 2, windowSeconds: 60 }
sources:
  - id: ci
    verify: { type: api-key, header: x-key, keys: ["k"] }
`

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const post = (source: string) =>
  h!.app.inject({
    method: 'POST',
    url: `/hooks/${source}`,
    payload: '{}',
    headers: { 'content-type': 'application/json', 'x-key': 'k' },
  })
const lines = (text: string, msg: string) =>
  text
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('refusals before a source reads the request', () => {
  it('counts rate-limited requests by source and logs one line, then the count at the interval end', async () => {
    h = await startHarness(config)
    for (const expected of [200, 200, 429, 429, 429, 429, 429])
      expect((await post('ci')).statusCode).toBe(expected)
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toContain('relay_refused_requests_total{source="ci",reason="rate_limited"} 5')
    expect(lines(h.logs(), 'hook refused: rate limited')).toEqual([
      expect.objectContaining({ source: 'ci', reason: 'rate_limited', refused: 1, intervalSeconds: 10 }),
    ])
    // Closing logs what the interval held back, so no refusal goes untold.
    await h.app.close()
    expect(lines(h.logs(), 'hook refused: rate limited').map((l) => l.refused)).toEqual([1, 4])
  })

  it('counts unknown sources under `unknown`, never the made-up name, and logs them in summaries', async () => {
    h = await startHarness(config)
    for (let i = 0; i < 50; i += 1) expect((await post(`made-up-${i}`)).statusCode).toBe(404)
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toContain('relay_refused_requests_total{source="unknown",reason="unknown_source"} 50')
    expect(metrics).not.toContain('made-up')
    const logged = lines(h.logs(), 'hook refused: unknown source')
    expect(logged).toEqual([
      expect.objectContaining({
        source: 'unknown',
        reason: 'unknown_source',
        refused: 1,
        example: 'made-up-0',
      }),
    ])
    await h.app.close()
    expect(lines(h.logs(), 'hook refused: unknown source').map((l) => l.refused)).toEqual([1, 49])
  })
})

describe('createRefusalLog', () => {
  afterEach(() => vi.useRealTimers())

  it('logs at most once per source and reason per interval, each line with the count since the last', () => {
    vi.useFakeTimers()
    const warn = vi.fn()
    const counter = createMetrics({ counts: async () => ({}) } as never).refusedRequests
    const log = createRefusalLog({ counter, log: { warn }, clock: Date.now, intervalMs: 10_000 })
    log.refused('a', 'rate_limited')
    log.refused('a', 'rate_limited')
    log.refused('b', 'rate_limited')
    log.refused('a', 'rate_limited')
    expect(warn.mock.calls.map(([o]) => [o.source, o.refused])).toEqual([
      ['a', 1],
      ['b', 1],
    ])
    vi.advanceTimersByTime(9_999)
    expect(warn).toHaveBeenCalledTimes(2)
    vi.advanceTimersByTime(1)
    expect(warn.mock.calls.map(([o]) => [o.source, o.refused])).toEqual([
      ['a', 1],
      ['b', 1],
      ['a', 2],
    ])
    // A quiet interval later, the next refusal is logged at once again.
    vi.advanceTimersByTime(20_000)
    log.refused('a', 'rate_limited')
    expect(warn).toHaveBeenCalledTimes(4)
    log.close()
    expect(warn).toHaveBeenCalledTimes(4)
  })
})
