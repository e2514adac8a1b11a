// The SQLite store's file: created with its directory at the latest schema version, refused when newer,
// and what survives a close, a crash and a purge.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { isRelayError } from '../../../src/errors.js'
import { MIGRATIONS } from '../../../src/queue/sqlite/migrations/index.js'
import { createSqliteStore } from '../../../src/queue/sqlite/store.js'
import { claim, newEvent, opened, recordOf, sealed, T0 } from '../contract/helpers.js'
import { sqliteFiles } from './fixtures.js'

describe('sqlite store', () => {
  const file = sqliteFiles()
  const { openStore } = file

  describe('files and schema', () => {
    it('creates the directory and a WAL database at the latest schema version', async () => {
      await openStore().enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      const db = new Database(file.path, { readonly: true })
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
      db.close()
    })

    it('refuses a database written by a newer version of the relay', async () => {
      await openStore().close()
      const db = new Database(file.path)
      db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
      db.close()
      expect(() => createSqliteStore({ path: file.path })).toThrow(/newer than this relay knows/)
    })
  })

  describe('durability', () => {
    it('fences the names a crashed run held: due once their writes can no longer land, then confirmed', async () => {
      const first = createSqliteStore({ path: file.path })
      await first.enqueue(newEvent(T0, [sealed('v', 'CRASHED', 'value-in-flight'), sealed('v', 'IDLE', 'x')]))
      expect(await claim(first, T0, 'dead-worker', 1)).toHaveLength(1)
      // No settle, no release: the process died holding the lease, its request maybe in flight.
      await first.close()
      const started = Date.now()
      const second = createSqliteStore({ path: file.path, uncertainWriteMs: 60_000 })
      const opened_ = Date.now()
      // the name never leased goes at once; the leased one waits out the fence
      expect((await claim(second, opened_, 'new-worker')).map((c) => c.name)).toEqual(['IDLE'])
      expect((await claim(second, started + 59_999, 'w3')).map((c) => c.name)).not.toContain('CRASHED')
      const due = await second.nextDueAt()
      expect(due).toBeGreaterThanOrEqual(started + 60_000)
      expect(due).toBeLessThanOrEqual(opened_ + 60_000)
      const again = await claim(second, opened_ + 60_000, 'new-worker')
      expect(again.map((c) => [c.name, c.unconfirmed])).toEqual([['CRASHED', true]])
      expect(opened(again[0]!)).toBe('value-in-flight')
      await second.close()
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
})
