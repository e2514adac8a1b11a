// Erasure on disk in SQLite: an erased value leaves no trace in the database or its WAL, checkpoints
// shared among the erases of a window, and a WAL a crash left truncated on open.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import type { SqliteStore } from '../../../src/queue/sqlite/store.js'
import { claim, newEvent, sealed, T0 } from '../contract/helpers.js'
import { sqliteFiles } from './fixtures.js'

describe('sqlite store', () => {
  const file = sqliteFiles()
  const { openStore } = file

  describe('erasure on disk', () => {
    /** Whether any 24-byte piece of `sealed` is in the database or its WAL (values span overflow pages). */
    function onDisk(sealedValue: Buffer): boolean {
      const files = [file.path, `${file.path}-wal`].filter(existsSync).map((f) => readFileSync(f))
      for (let at = 0; at + 24 <= sealedValue.length; at += 24) {
        const piece = sealedValue.subarray(at, at + 24)
        if (files.some((bytes) => bytes.includes(piece))) return true
      }
      return false
    }

    const scenarios = {
      delivered: async (store: SqliteStore) => {
        const claimed = await claim(store, T0)
        await store.settle(
          'w1',
          T0,
          claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
        )
      },
      dead: async (store: SqliteStore) => {
        const claimed = await claim(store, T0)
        await store.settle(
          'w1',
          T0,
          claimed.map((c) => ({ id: c.id, kind: 'dead' as const, error: 'refused' })),
        )
      },
      superseded: async (store: SqliteStore) => {
        await store.enqueue(newEvent(T0 + 1, [sealed('v', 'A', 'newer'), sealed('v', 'B', 'newer')]))
      },
      discarded: async (store: SqliteStore) => {
        for (const e of await store.listEvents({ limit: 10 }))
          await store.discardEvent(e.source, e.eventId, T0)
      },
    }

    for (const [kind, erase] of Object.entries(scenarios)) {
      it(`leaves no trace of a ${kind} value in the database or WAL files soon after`, async () => {
        const store = openStore({ eraseDelayMs: 50 })
        // one value checkpointed into the database file (spanning overflow pages), one still in the WAL
        const large = sealed('v', 'A', randomBytes(6000).toString('base64'))
        const small = sealed('v', 'B', 'value-small')
        await store.enqueue(newEvent(T0, [large]))
        await store.checkpoint()
        await store.enqueue(newEvent(T0, [small]))
        expect([onDisk(large.sealed!), onDisk(small.sealed!)]).toEqual([true, true])
        const before = store.stats().checkpoints
        await erase(store)
        await vi.waitFor(() => expect(store.stats().checkpoints).toBe(before + 1), { timeout: 5_000 })
        expect([onDisk(large.sealed!), onDisk(small.sealed!)]).toEqual([false, false])
      })
    }

    it('leaves no trace of a kept dead value that retention purges with its event', async () => {
      const store = openStore({ eraseDelayMs: 50 })
      const value = sealed('v', 'A', randomBytes(6000).toString('base64'))
      await store.enqueue(newEvent(T0, [value]))
      const [c] = await claim(store, T0)
      const keepValueUntil = T0 + 86_400_000
      const opened = store.stats().checkpoints
      await store.settle('w1', T0, [{ id: c!.id, kind: 'dead', error: 'refused', keepValueUntil }])
      // the death's own checkpoint is done before the purge (the kept copy stays on disk)
      await vi.waitFor(() => expect(store.stats().checkpoints).toBe(opened + 1), { timeout: 5_000 })
      // the newest secret's event is never purged: a later one, of another name
      await store.enqueue(newEvent(T0, [sealed('v', 'B', 'value-newest')], { receivedAt: T0 + 10 }))
      expect(onDisk(value.sealed!)).toBe(true)
      const before = store.stats().checkpoints
      expect(await store.purge(T0 + 1, 10)).toBe(1)
      await vi.waitFor(() => expect(store.stats().checkpoints).toBe(before + 1), { timeout: 5_000 })
      expect(onDisk(value.sealed!)).toBe(false)
    })

    it('shares one checkpoint among the erases of its window, and checkpoints on close', async () => {
      const store = openStore({ eraseDelayMs: 60_000 })
      const opened = store.stats().checkpoints
      const values = ['A', 'B', 'C'].map((name) => sealed('v', name, `value-${name}`))
      for (const v of values) await store.enqueue(newEvent(T0, [v]))
      const claimed = await claim(store, T0)
      // three erasing commits, well inside the window: none checkpoints by itself
      for (const c of claimed) await store.settle('w1', T0, [{ id: c.id, kind: 'delivered', version: 1 }])
      expect(store.stats().checkpoints).toBe(opened)
      expect(values.some((v) => onDisk(v.sealed!))).toBe(true)
      await store.close()
      expect(existsSync(`${file.path}-wal`)).toBe(false)
      expect(values.map((v) => onDisk(v.sealed!))).toEqual([false, false, false])
    })

    it('truncates a WAL a crash left holding erased values when it opens', async () => {
      // a run killed inside its erase window: the erased value's old frames are still in the WAL
      const crashed = openStore({ eraseDelayMs: 60_000 })
      const value = sealed('v', 'A', 'value-erased-before-the-crash')
      await crashed.enqueue(newEvent(T0, [value]))
      const [c] = await claim(crashed, T0)
      await crashed.settle('w1', T0, [{ id: c!.id, kind: 'delivered', version: 1 }])
      const walCopy = readFileSync(`${file.path}-wal`)
      expect(walCopy.includes(value.sealed!.subarray(0, 24))).toBe(true)
      await crashed.close()
      // put the WAL back as the crash left it (close checkpointed and removed it), then open again
      writeFileSync(`${file.path}-wal`, walCopy)
      const reopened = openStore()
      expect(onDisk(value.sealed!)).toBe(false)
      expect((await reopened.counts()).delivered).toBe(1)
    })
  })
})
