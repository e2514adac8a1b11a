// Adaptive batching: a lone secret goes at once; secrets that come while a request is out are gathered.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

/** The names each request to RWX carried, in arrival order. */
function requestNames(): string[][] {
  return h.fake.requests.map((r) => (r.body as { secrets: { name: string }[] }).secrets.map((s) => s.name))
}

describe('adaptive batching', () => {
  it('sends a lone secret at once when nothing is in flight, without waiting for the batch window', async () => {
    h = await createHarness({ config: { batchWindowMs: 5_000 } })
    const id = await h.enqueue([{ name: 'A', value: 'a-1' }])
    // Far less than the 5 s window: the worker was idle, so it did not wait for company.
    await h.until(() => allIn(h, id, 'delivered'), 2_500)
    expect(requestNames()).toEqual([['A']])
  })

  it('gathers the secrets that come while a request is out into one request', async () => {
    h = await createHarness({ config: { batchWindowMs: 5_000 } })
    h.fake.delay(300, 1)
    const first = await h.enqueue([{ name: 'A', value: 'a-1' }])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    const during = [
      await h.enqueue([{ name: 'B', value: 'b-1' }]),
      await h.enqueue([{ name: 'C', value: 'c-1' }]),
    ]
    await h.until(() => allIn(h, first, 'delivered'))
    // The first request is done and nothing is in flight, but B and C are in their window: D joins them.
    const after = await h.enqueue([{ name: 'D', value: 'd-1' }])
    await h.until(
      async () =>
        (await Promise.all([...during, after].map((id) => allIn(h, id, 'delivered')))).every(Boolean),
      10_000,
    )
    expect(requestNames().map((names) => names.sort())).toEqual([['A'], ['B', 'C', 'D']])
  })

  it('sends at once again once the worker is idle after a batch', async () => {
    h = await createHarness({ config: { batchWindowMs: 5_000 } })
    const first = await h.enqueue([{ name: 'A', value: 'a-1' }])
    await h.until(() => allIn(h, first, 'delivered'), 2_500)
    const second = await h.enqueue([{ name: 'B', value: 'b-1' }])
    await h.until(() => allIn(h, second, 'delivered'), 2_500)
    expect(requestNames()).toEqual([['A'], ['B']])
  })
})
