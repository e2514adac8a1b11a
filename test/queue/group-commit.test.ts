// Group commit: what goes in one batch, how many batches run at once, and how failures reach callers.
import { describe, expect, it } from 'vitest'
import { createGroupCommit, ItemFailure } from '../../src/queue/group-commit.js'

/** A batch runner whose batches the test ends by hand. */
function manualBatches() {
  const started: { items: number[]; finish(): void; fail(err: unknown): void }[] = []
  const run = (items: number[]) =>
    new Promise<Array<number | ItemFailure>>((resolve, reject) => {
      started.push({
        items,
        finish: () => resolve(items.map((i) => (i < 0 ? new ItemFailure(new Error(`bad ${i}`)) : i * 10))),
        fail: reject,
      })
    })
  return { started, run }
}

/** Lets queued microtasks and immediates run until `check` holds (no timer: group commit runs per turn). */
const afterTurns = async (check: () => boolean) => {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r))
  expect(check()).toBe(true)
}

describe('group commit', () => {
  it('commits synchronous batches of everything submitted in one tick, with each its own result', async () => {
    const batches: number[][] = []
    const group = createGroupCommit<number, number>((items) => {
      batches.push(items)
      return items.map((i) => i + 1)
    })
    const first = await Promise.all([1, 2, 3].map((i) => group.submit(i)))
    const second = await group.submit(4)
    expect(first).toEqual([2, 3, 4])
    expect(second).toBe(5)
    expect(batches).toEqual([[1, 2, 3], [4]])
    expect(group.batches).toBe(2)
  })

  it('holds what arrives while asynchronous batches run, and sends it together in the next', async () => {
    const { started, run } = manualBatches()
    const group = createGroupCommit<number, number>(run, undefined, { maxInFlight: 2 })
    const a = group.submit(1)
    await afterTurns(() => started.length === 1)
    const b = group.submit(2)
    await afterTurns(() => started.length === 2)
    const rest = [3, 4, 5].map((i) => group.submit(i))
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r))
    expect(started.map((s) => s.items)).toEqual([[1], [2]])
    started[0]!.finish()
    await afterTurns(() => started.length === 3)
    expect(started[2]!.items).toEqual([3, 4, 5])
    started[1]!.finish()
    started[2]!.finish()
    expect(await Promise.all([a, b, ...rest])).toEqual([10, 20, 30, 40, 50])
  })

  it('splits a burst into batches of at most maxItems', async () => {
    const { started, run } = manualBatches()
    const group = createGroupCommit<number, number>(run, undefined, { maxInFlight: 3, maxItems: 2 })
    const all = [1, 2, 3, 4, 5].map((i) => group.submit(i))
    await afterTurns(() => started.length === 3)
    expect(started.map((s) => s.items)).toEqual([[1, 2], [3, 4], [5]])
    for (const s of started) s.finish()
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50])
  })

  it('rejects one caller for its ItemFailure, every caller of a batch that throws, and goes on', async () => {
    const { started, run } = manualBatches()
    const group = createGroupCommit<number, number>(
      run,
      (err) => new Error(`store: ${(err as Error).message}`),
    )
    const mixed = [1, -2, 3].map((i) => group.submit(i))
    await afterTurns(() => started.length === 1)
    started[0]!.finish()
    const settled = await Promise.allSettled(mixed)
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      10,
      'store: bad -2',
      30,
    ])
    const failing = [4, 5].map((i) => group.submit(i))
    await afterTurns(() => started.length === 2)
    started[1]!.fail(new Error('down'))
    for (const r of await Promise.allSettled(failing)) expect(r).toMatchObject({ status: 'rejected' })
    const after = group.submit(6)
    await afterTurns(() => started.length === 3)
    started[2]!.finish()
    expect(await after).toBe(60)
  })

  it('answers callers at the deadline: an item no batch took is dropped, a running batch still commits', async () => {
    const { started, run } = manualBatches()
    const late = new Error('past the deadline')
    const group = createGroupCommit<number, number>(run, undefined, {
      maxInFlight: 1,
      deadline: { ms: 50, error: () => late },
    })
    const running = group.submit(1)
    await afterTurns(() => started.length === 1)
    // the one batch allowed is running (a frozen database): this one waits for the next
    const waiting = group.submit(2)
    await expect(running).rejects.toBe(late)
    await expect(waiting).rejects.toBe(late)
    // the running batch finishes after its caller was refused; the waiting item was never sent
    started[0]!.finish()
    const next = group.submit(3)
    await afterTurns(() => started.length === 2)
    expect(started.map((b) => b.items)).toEqual([[1], [3]])
    started[1]!.finish()
    expect(await next).toBe(30)
  })
})
