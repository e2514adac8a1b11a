// Store gauges read from the store itself: the oldest value waiting, however many names the relay keeps.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics } from '../src/metrics.js'
import { createSqliteStore, type SqliteStore } from '../src/queue/sqlite/store.js'
import { claim, newEvent, sealed } from './queue/contract/helpers.js'

async function gauge(store: SqliteStore, name: string): Promise<number> {
  const metric = await createMetrics(store).registry.getSingleMetric(name)?.get()
  const value = metric?.values[0]?.value
  if (value === undefined) throw new Error(`${name} has no value`)
  return value
}

describe('relay_oldest_pending_seconds', () => {
  let dir: string
  let store: SqliteStore
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is the age of the oldest queued value, read from the store without an inventory, and 0 once none waits', async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-metrics-'))
    store = createSqliteStore({ path: join(dir, 'relay.db') })
    expect(await gauge(store, 'relay_oldest_pending_seconds')).toBe(0)
    const now = Date.now()
    await store.enqueue(newEvent(now, [sealed('v', 'OLD', 'x')], { receivedAt: now - 90_000 }))
    await store.enqueue(newEvent(now, [sealed('v', 'NEW', 'y')], { receivedAt: now - 1_000 }))
    const age = await gauge(store, 'relay_oldest_pending_seconds')
    expect(age).toBeGreaterThanOrEqual(90)
    expect(age).toBeLessThan(90 + 60)
    const claimed = await claim(store, now)
    await store.settle(
      'w1',
      now,
      claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
    )
    expect(await gauge(store, 'relay_oldest_pending_seconds')).toBe(0)
  })
})
