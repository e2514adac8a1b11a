// The retention job on a real SQLite store: chunks, the schedule, its log line and metric, and failures.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../src/log.js'
import { createMetrics, type Metrics } from '../../src/metrics.js'
import { createRetentionJob, DAY_MS, type RetentionJob } from '../../src/queue/retention.js'
import { createSqliteStore, type SqliteStore } from '../../src/queue/sqlite/store.js'
import { claim, newEvent, sealed, T0 } from './contract/helpers.js'

describe('retention job', () => {
  let dir: string
  let store: SqliteStore
  let metrics: Metrics
  let lines: string[]
  let now: number
  const jobs: RetentionJob[] = []

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-retention-'))
    store = createSqliteStore({ path: join(dir, 'relay.db') })
    metrics = createMetrics(store)
    lines = []
    now = T0
  })
  afterEach(async () => {
    for (const job of jobs.splice(0)) await job.stop()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function job(options: { chunk?: number; intervalMs?: number } = {}): RetentionJob {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).trim().split('\n'))
        cb()
      },
    })
    const made = createRetentionJob({
      store,
      days: 7,
      log: createLogger('info', sink),
      clock: () => now,
      purged: metrics.purgedEvents,
      ...options,
    })
    jobs.push(made)
    return made
  }

  /** Queues `n` events received at `at`, each with one value, and records them delivered. */
  async function delivered(n: number, at: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await store.enqueue(newEvent(T0, [sealed('v', `N${at}_${i}`, `value-${at}-${i}`)], { receivedAt: at }))
    }
    const claimed = await claim(store, at)
    await store.settle(
      'w1',
      at,
      claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
    )
  }

  /** A recent event still waiting (and the newest secret, which SQLite keeps). */
  async function waiting(at: number): Promise<void> {
    await store.enqueue(newEvent(T0, [sealed('v', `W${at}`, 'waiting')], { receivedAt: at }))
  }

  const purgedTotal = async () => (await metrics.purgedEvents.get()).values[0]?.value ?? 0
  const logged = (msg: string) => lines.map((l) => JSON.parse(l)).filter((l) => l.msg === msg)

  it('purges finished events older than the retention in chunks, logging and counting them once', async () => {
    await delivered(5, T0)
    await waiting(T0 + DAY_MS)
    const purge = vi.spyOn(store, 'purge')
    const retention = job({ chunk: 2 })

    now = T0 + 7 * DAY_MS
    expect(await retention.run()).toBe(0)
    expect(logged('purged finished events past retention')).toEqual([])

    now = T0 + 7 * DAY_MS + 1
    expect(await retention.run()).toBe(5)
    // chunks of 2 until one comes back short
    expect(purge.mock.calls.slice(1)).toEqual([
      [T0 + 1, 2],
      [T0 + 1, 2],
      [T0 + 1, 2],
    ])
    expect(await store.listEvents({ limit: 10 })).toHaveLength(1)
    expect(await purgedTotal()).toBe(5)
    expect(logged('purged finished events past retention')).toEqual([
      expect.objectContaining({
        level: 30,
        deleted: 5,
        days: 7,
        receivedBefore: new Date(T0 + 1).toISOString(),
      }),
    ])
    expect(lines.join('\n')).not.toMatch(/value-/)
  })

  it('runs at start, then again every interval until stopped', async () => {
    await delivered(2, T0)
    await waiting(T0 + 2 * DAY_MS)
    now = T0 + 8 * DAY_MS
    const retention = job({ intervalMs: 20 })
    retention.start()
    await vi.waitFor(() => expect(logged('purged finished events past retention')).toHaveLength(1), {
      timeout: 5_000,
    })
    expect(await store.listEvents({ limit: 10 })).toHaveLength(1)

    // the waiting event is delivered and ages past the retention: a later run takes it
    await delivered(1, T0 + 3 * DAY_MS)
    now = T0 + 11 * DAY_MS
    await vi.waitFor(
      async () => {
        expect((await store.listEvents({ limit: 10 })).map((e) => e.receivedAt)).toEqual([T0 + 3 * DAY_MS])
      },
      { timeout: 5_000 },
    )
    expect(await purgedTotal()).toBe(3)
    await retention.stop()
  })

  it('waits for a purge under way when stopped, and stops after its chunk', async () => {
    let release: (n: number) => void = () => {}
    const purge = vi.spyOn(store, 'purge').mockImplementation(
      () =>
        new Promise<number>((resolve) => {
          release = resolve
        }),
    )
    const retention = job({ chunk: 2 })
    retention.start()
    await vi.waitFor(() => expect(purge).toHaveBeenCalledTimes(1), { timeout: 5_000 })
    let stopped = false
    const stopping = retention.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(stopped).toBe(false)
    // a full chunk: a running job would ask for the next one
    release(2)
    await stopping
    expect(purge).toHaveBeenCalledTimes(1)
    expect(await purgedTotal()).toBe(2)
  })

  it('survives a closed store without throwing, and logs at warn', async () => {
    await store.close()
    const retention = job()
    now = T0 + 8 * DAY_MS
    expect(await retention.run()).toBe(0)
    expect(logged('purging old events failed; trying again at the next run')).toEqual([
      expect.objectContaining({ level: 40, err: expect.objectContaining({ code: 'ERR_STORE_UNAVAILABLE' }) }),
    ])
    expect(await purgedTotal()).toBe(0)
  })

  it('tries again at the next run after a store failure', async () => {
    await delivered(3, T0)
    await waiting(T0 + DAY_MS)
    now = T0 + 8 * DAY_MS
    vi.spyOn(store, 'purge').mockRejectedValueOnce(new Error('database is locked'))
    const retention = job({ intervalMs: 20 })
    retention.start()
    await vi.waitFor(() => expect(logged('purged finished events past retention')).toHaveLength(1), {
      timeout: 5_000,
    })
    expect(logged('purging old events failed; trying again at the next run')).toEqual([
      expect.objectContaining({ err: expect.objectContaining({ message: 'database is locked' }) }),
    ])
    expect(await purgedTotal()).toBe(3)
  })
})
