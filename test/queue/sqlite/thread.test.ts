// The SQLite store on its own thread: what crosses (errors, log lines, sealed bytes), one commit for a tick's
// events, a close that keeps what was accepted, and an open that fails as createSqliteStore throws.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteStore, type SqliteStore } from '../../../src/queue/sqlite/store.js'
import { claim, newEvent, opened, sealed, T0 } from '../contract/helpers.js'

// The build's module, as the relay runs it (see thread-contract.test.ts).
const { openSqliteStoreOnThread }: typeof import('../../../src/queue/sqlite/on-thread.js') = await import(
  pathToFileURL(resolve('dist/queue/sqlite/on-thread.js')).href
)

describe('sqlite store on its thread', () => {
  const dirs: string[] = []
  const stores: SqliteStore[] = []
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'relay-thread-'))
    dirs.push(dir)
    return dir
  }
  async function open(path = join(tempDir(), 'relay.db'), log?: { error(o: object, m: string): void }) {
    const store = await openSqliteStoreOnThread(log === undefined ? { path } : { path, log })
    stores.push(store)
    return store
  }
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close()
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('gives each claimed value back as a Buffer that opens to what was queued', async () => {
    const store = await open()
    await store.enqueue(newEvent(T0, [sealed('v', 'A', 'the-value')]))
    const [c] = await claim(store, T0)
    expect(Buffer.isBuffer(c?.sealed)).toBe(true)
    expect(opened(c!)).toBe('the-value')
  })

  it('commits the events of one tick in one transaction', async () => {
    const store = await open()
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.enqueue(newEvent(T0, [sealed('v', `N${i}`, 'x')]))),
    )
    expect(results.every((r) => r.queued === 1)).toBe(true)
    expect(store.stats().enqueuedEvents).toBe(200)
    expect(store.stats().enqueueTransactions).toBe(1)
    expect((await store.counts()).queued).toBe(200)
  })

  it('refuses one bad event alone: the others of its group are queued', async () => {
    const store = await open()
    const good = store.enqueue(newEvent(T0, [sealed('v', 'GOOD', 'x')]))
    const bad = store.enqueue(newEvent(Number.NaN, [sealed('v', 'BAD', 'x')])).catch((err: unknown) => err)
    await expect(good).resolves.toMatchObject({ queued: 1 })
    expect(await bad).toBeInstanceOf(TypeError)
    expect((await store.counts()).queued).toBe(1)
  })

  it('hands a RelayError across with its code and Retry-After, and the thread’s log line to the logger', async () => {
    const lines: string[] = []
    const path = join(tempDir(), 'relay.db')
    const store = await open(path, { error: (_obj, msg) => lines.push(msg) })
    unlinkSync(path)
    const refused = await store.enqueue(newEvent(T0, [sealed('v', 'A', 'x')])).catch((err: unknown) => err)
    // (the build's RelayError class, not the sources')
    expect(refused).toMatchObject({
      name: 'RelayError',
      code: 'ERR_STORE_UNAVAILABLE',
      status: 503,
      retryAfter: 5,
    })
    expect(lines.some((l) => /deleted or replaced while open/.test(l))).toBe(true)
    await expect(store.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
  })

  it('keeps every event accepted before close, and refuses the ones after', async () => {
    const path = join(tempDir(), 'relay.db')
    const store = await openSqliteStoreOnThread({ path })
    const accepted = Array.from({ length: 50 }, (_, i) =>
      store.enqueue(newEvent(T0, [sealed('v', `N${i}`, 'x')])),
    )
    const closing = store.close()
    await expect(Promise.all(accepted)).resolves.toHaveLength(50)
    await closing
    await expect(store.enqueue(newEvent(T0, [sealed('v', 'LATE', 'x')]))).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
    await expect(store.counts()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
    await store.close()
    const again = await open(path)
    expect((await again.counts()).queued).toBe(50)
  })

  it('rejects the open with the store’s own error when the file cannot be opened', async () => {
    const notADir = join(tempDir(), 'file')
    writeFileSync(notADir, 'x')
    const path = join(notADir, 'relay.db')
    const inThread = (() => {
      try {
        createSqliteStore({ path })
      } catch (err) {
        return (err as Error).message
      }
    })()
    expect(inThread).toBeTruthy()
    await expect(openSqliteStoreOnThread({ path })).rejects.toThrow(inThread)
  })
})
