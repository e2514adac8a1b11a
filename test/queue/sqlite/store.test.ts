// The SQLite store: the shared contract on real files, plus durability, group commit and erasure on disk.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isRelayError } from '../../../src/errors.js'
import { MIGRATIONS } from '../../../src/queue/sqlite/migrations/index.js'
import { createSqliteStore, type SqliteStore } from '../../../src/queue/sqlite/store.js'
import { claim, newEvent, opened, recordOf, sealed, T0 } from '../contract/helpers.js'
import { storeContract } from '../contract/index.js'

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'))
  const store = createSqliteStore({ path: join(dir, 'relay.db') })
  return {
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

describe('sqlite store', () => {
  let dir: string
  let path: string
  const open: SqliteStore[] = []
  const openStore = (options: { eraseDelayMs?: number } = {}): SqliteStore => {
    const store = createSqliteStore({ path, ...options })
    open.push(store)
    return store
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-'))
    path = join(dir, 'nested', 'data', 'relay.db')
  })
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('files and schema', () => {
    it('creates the directory and a WAL database at the latest schema version', async () => {
      await openStore().enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      const db = new Database(path, { readonly: true })
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
      db.close()
    })

    it('refuses a database written by a newer version of the relay', async () => {
      await openStore().close()
      const db = new Database(path)
      db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
      db.close()
      expect(() => createSqliteStore({ path })).toThrow(/newer than this relay knows/)
    })
  })

  describe('a backlog does not hold the event loop', () => {
    it('settles a large round in chunks, with a turn of the event loop between them, recording all', async () => {
      const store = openStore()
      await store.enqueue(
        newEvent(
          T0,
          Array.from({ length: 250 }, (_, i) => sealed('v', `N${i}`, `value-${i}`)),
        ),
      )
      const claimed = await store.claim({ owner: 'w1', now: T0, leaseMs: 60_000, limit: 500 })
      expect(claimed).toHaveLength(250)
      let turned = false
      setImmediate(() => {
        turned = true
      })
      const failedOnce = [claimed[3]!, claimed[150]!, claimed[249]!]
      await store.settle(
        'w1',
        T0 + 1,
        claimed.map((c) =>
          failedOnce.includes(c)
            ? { id: c.id, kind: 'retry' as const, at: T0 + 5, error: 'down', countAttempt: true }
            : { id: c.id, kind: 'delivered' as const, version: 1 },
        ),
        failedOnce.map((c) => ({
          secretId: c.id,
          at: T0 + 1,
          outcome: 'retry',
          status: '503',
          version: null,
          error: 'down',
        })),
      )
      // a synchronous settle would resolve before any setImmediate callback ran
      expect(turned).toBe(true)
      expect((await store.counts()).delivered).toBe(247)
      const p = await store.getProvenance(claimed[0]!.source, claimed[0]!.eventId)
      for (const c of failedOnce) expect(p?.attempts[c.id]?.map((a) => a.outcome)).toEqual(['retry'])
      expect(p?.attempts[claimed[0]!.id]?.map((a) => a.outcome)).toEqual(['delivered'])
      expect(Object.keys(p?.attempts ?? {})).toHaveLength(250)
    })
  })

  describe('durability', () => {
    it('frees the leases a crashed run left, so its work is due at once after a restart', async () => {
      const first = createSqliteStore({ path })
      await first.enqueue(newEvent(T0, [sealed('v', 'CRASHED', 'value-in-flight')]))
      expect(await claim(first, T0, 'dead-worker')).toHaveLength(1)
      // No settle, no release: the process died holding the lease. Drop the handle without cleanup.
      await first.close()
      const second = openStore()
      const again = await claim(second, T0 + 1, 'new-worker')
      expect(again.map((c) => c.name)).toEqual(['CRASHED'])
      expect(opened(again[0]!)).toBe('value-in-flight')
    })

    it('keeps a queued secret across close and reopen', async () => {
      const first = openStore()
      await first.enqueue(newEvent(T0, [sealed('v', 'A', 'kept')]))
      await first.close()
      expect((await claim(openStore(), T0)).map(opened)).toEqual(['kept'])
    })

    it('still knows a duplicate and the delivered watermark after reopen', async () => {
      const first = openStore()
      const event = newEvent(T0 + 1000, [sealed('v', 'A', 'new')])
      await first.enqueue(event)
      const [c] = await claim(first, T0)
      await first.settle('w1', T0, [{ id: c!.id, kind: 'delivered', version: 1 }])
      await first.close()
      const second = openStore()
      expect(await second.enqueue(event)).toMatchObject({ duplicate: true })
      expect(await second.enqueue(newEvent(T0, [sealed('v', 'A', 'old')]))).toMatchObject({ superseded: 1 })
    })

    it('commits enqueues still waiting when it is closed', async () => {
      const first = openStore()
      const pending = first.enqueue(newEvent(T0, [sealed('v', 'A', 'late')]))
      await first.close()
      expect(await pending).toMatchObject({ queued: 1 })
      expect((await claim(openStore(), T0)).map(opened)).toEqual(['late'])
    })

    it('reports itself unavailable once closed', async () => {
      const store = openStore()
      await store.close()
      const refused = await store.enqueue(newEvent(T0, [])).catch((err: unknown) => err)
      expect(isRelayError(refused, 'ERR_STORE_UNAVAILABLE')).toBe(true)
      await expect(store.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      await expect(store.purge(T0, 10)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    })
  })

  describe('retention', () => {
    it('keeps the newest secret’s event, so no secret id is handed out twice', async () => {
      // SQLite gives a new row the largest rowid plus one: were the newest secret purged, the next one would
      // take its id again, while the names watermark orders a name's values by (event time, secret id).
      const store = openStore()
      const events = ['A', 'B', 'C'].map((name) => newEvent(T0, [sealed('v', name, name)]))
      for (const e of events) await store.enqueue(e)
      const claimed = await claim(store, T0)
      await store.settle(
        'w1',
        T0,
        claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
      )
      const newestId = Math.max(...claimed.map((c) => c.id))
      expect(await store.purge(T0 + 1, 100)).toBe(2)
      expect((await store.listEvents({ limit: 10 })).map((e) => e.eventId)).toEqual([events[2]!.eventId])
      const next = newEvent(T0, [sealed('v', 'D', 'd')])
      await store.enqueue(next)
      expect((await recordOf(store, next)).id).toBeGreaterThan(newestId)
      // no longer the newest: it goes now
      expect(await store.purge(T0 + 1, 100)).toBe(1)
    })
  })

  describe('group commit', () => {
    it('commits a burst of 100 enqueues in one transaction', async () => {
      const store = openStore()
      const before = store.stats().enqueueTransactions
      const events = Array.from({ length: 100 }, (_, i) => newEvent(T0, [sealed('v', `N${i}`, 'x')]))
      const results = await Promise.all(events.map((e) => store.enqueue(e)))
      expect(results.every((r) => r.queued === 1)).toBe(true)
      expect(store.stats().enqueueTransactions - before).toBe(1)
      // enqueues awaited one by one each get their own transaction
      await store.enqueue(newEvent(T0, []))
      await store.enqueue(newEvent(T0, []))
      expect(store.stats()).toMatchObject({ enqueueTransactions: before + 3, enqueuedEvents: 102 })
    })

    it('rejects every caller of a failed batch and commits none of it', async () => {
      const store = openStore()
      await store.ping()
      const db = new Database(path)
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON secrets WHEN NEW.name = 'BOOM'
        BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
      const good = newEvent(T0, [sealed('v', 'A', 'a')])
      const bad = newEvent(T0, [sealed('v', 'BOOM', 'b')])
      const settled = await Promise.allSettled([store.enqueue(good), store.enqueue(bad)])
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
      expect(settled[0]).toMatchObject({ reason: { code: 'ERR_STORE_UNAVAILABLE' } })
      expect(await store.getEvent(good.source, good.eventId)).toBeNull()
      db.exec('DROP TRIGGER refuse')
      db.close()
      expect(await store.enqueue(good)).toMatchObject({ duplicate: false, queued: 1 })
    })

    it('refuses a malformed event alone, without spoiling the batch it would have joined', async () => {
      const store = openStore()
      const good = newEvent(T0, [sealed('v', 'A', 'a')])
      const bad = newEvent(Number.NaN, [sealed('v', 'B', 'b')])
      const settled = await Promise.allSettled([store.enqueue(good), store.enqueue(bad)])
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected'])
    })
  })

  describe('erasure on disk', () => {
    /** Whether any 24-byte piece of `sealed` is in the database or its WAL (values span overflow pages). */
    function onDisk(sealedValue: Buffer): boolean {
      const files = [path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f))
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
      expect(existsSync(`${path}-wal`)).toBe(false)
      expect(values.map((v) => onDisk(v.sealed!))).toEqual([false, false, false])
    })

    it('truncates a WAL a crash left holding erased values when it opens', async () => {
      // a run killed inside its erase window: the erased value's old frames are still in the WAL
      const crashed = openStore({ eraseDelayMs: 60_000 })
      const value = sealed('v', 'A', 'value-erased-before-the-crash')
      await crashed.enqueue(newEvent(T0, [value]))
      const [c] = await claim(crashed, T0)
      await crashed.settle('w1', T0, [{ id: c!.id, kind: 'delivered', version: 1 }])
      const walCopy = readFileSync(`${path}-wal`)
      expect(walCopy.includes(value.sealed!.subarray(0, 24))).toBe(true)
      await crashed.close()
      // put the WAL back as the crash left it (close checkpointed and removed it), then open again
      writeFileSync(`${path}-wal`, walCopy)
      const reopened = openStore()
      expect(onDisk(value.sealed!)).toBe(false)
      expect((await reopened.counts()).delivered).toBe(1)
    })
  })
})
