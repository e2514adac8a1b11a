// A 429 from RWX pauses every request to RWX for its Retry-After, not only the secrets it answered.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

describe('delivery worker: RWX answers 429', () => {
  it('sends nothing to RWX within the Retry-After window, then delivers everything', async () => {
    const holds: string[] = []
    h = await createHarness({
      // One lane: no other request can be on its way when the 429 is answered, so the window is exact.
      config: { batchSize: 2, concurrency: 1, backoffBaseMs: 10, backoffMaxMs: 20 },
      events: { onHold: (reason) => void holds.push(reason) },
      start: false,
    })
    h.fake.failNext(1, { status: 429, retryAfter: 1, body: { error: 'slow down' } })
    const ids: string[] = []
    for (let i = 0; i < 10; i++) ids.push(await h.enqueue([{ name: `S${i}`, value: `v-${i}` }]))
    h.worker.start()
    await h.fake.waitFor((_, requests) =>
      requests.some((r) => r.status === 429 && r.answeredAt !== undefined),
    )
    const limited = h.fake.requests.find((r) => r.status === 429)!
    // Visible while it lasts (the worker notes it once the answer is read, just after the fake sent it).
    await h.until(() => h.worker.status().rateLimitedUntil !== undefined)
    expect(h.worker.status().rateLimitedUntil).toBeGreaterThanOrEqual(limited.answeredAt! + 1000)

    for (const id of ids) await h.until(() => allIn(h, id, 'delivered'), 10_000)
    const early = h.fake.requests.filter((r) => r !== limited && r.at < limited.answeredAt! + 1000)
    expect(early.map((r) => ({ at: r.at - limited.answeredAt!, status: r.status }))).toEqual([])
    expect(holds).toContain('rate-limited')
    expect(h.worker.status().rateLimitedUntil).toBeUndefined()
    expect(h.logs.filter((l) => l.includes('RWX asks to slow down (429)'))).toHaveLength(1)
  }, 15_000)
})
