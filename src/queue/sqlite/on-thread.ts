// The SQLite store run on its own thread: the event loop parses, verifies and seals while a group commits.
import { Worker } from 'node:worker_threads'
import { RelayError } from '../../errors.js'
import { createGroupCommit, ItemFailure } from '../group-commit.js'
import { type Claimed, checkNewEvent, type EnqueueResult, type NewEvent } from '../store.js'
import type { SqliteStore, SqliteStoreOptions, SqliteStoreStats } from './store.js'
import {
  asBuffer,
  type EnqueueAnswer,
  fromWire,
  THREAD_METHODS,
  type ThreadCall,
  type ThreadMessage,
  type ThreadMethod,
} from './thread-wire.js'

/**
 * Event groups in flight to the thread at once: while one commits (its fsync), the next is already
 * there, and what arrives meanwhile gathers for the one after.
 */
const GROUPS_IN_FLIGHT = 2

function unavailable(cause: unknown): RelayError {
  return new RelayError('ERR_STORE_UNAVAILABLE', 'the queue store cannot take the event now', {
    cause,
    retryAfter: 1,
  })
}

/**
 * The worker script beside this module. From the TypeScript sources (vitest only) the thread starts
 * through test/support/ts-thread.mjs, which registers tsx (a devDependency) first; dist/ never does.
 */
function startWorker(options: Omit<SqliteStoreOptions, 'log'>): Worker {
  const workerData = { ...options }
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./thread.js', import.meta.url), { workerData })
  const boot = new URL('../../../test/support/ts-thread.mjs', import.meta.url)
  return new Worker(boot, { workerData, argv: [new URL('./thread.ts', import.meta.url).href] })
}

/**
 * Opens the store at `options.path` on a worker thread that owns the database connection, and answers a
 * SqliteStore that calls across to it. The store is the same code as createSqliteStore's and keeps each of
 * its guarantees (an enqueue resolves only after its group's fsync'd commit); what changes is where the
 * commits wait. Rejects with the opening error (a newer schema, an unreadable file) as createSqliteStore
 * throws it. If the thread ends unexpectedly, every call waiting and after is refused ERR_STORE_UNAVAILABLE.
 */
export function openSqliteStoreOnThread(options: SqliteStoreOptions): Promise<SqliteStore> {
  const { log, ...data } = options
  const worker = startWorker(data)
  const waiting = new Map<number, { resolve(value: unknown): void; reject(err: unknown): void }>()
  let nextId = 1
  let stats: SqliteStoreStats = { enqueueTransactions: 0, enqueuedEvents: 0, checkpoints: 0 }
  let ended: Error | undefined
  let closing = false
  let opened: { resolve(store: SqliteStore): void; reject(err: unknown): void } | undefined

  function call(method: ThreadMethod | 'enqueueMany', args: unknown[]): Promise<unknown> {
    if (ended !== undefined) return Promise.reject(unavailable(ended))
    const id = nextId++
    // the thread keeps the process alive only while something waits for it, as the in-thread store does
    if (waiting.size === 0) worker.ref()
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject })
      worker.postMessage({ id, method, args } as ThreadCall)
    })
  }
  function settle(id: number, answer: (w: { resolve(v: unknown): void; reject(e: unknown): void }) => void) {
    const w = waiting.get(id)
    if (w === undefined) return
    waiting.delete(id)
    if (waiting.size === 0) worker.unref()
    answer(w)
  }
  function end(err: Error): void {
    ended ??= err
    opened?.reject(err)
    opened = undefined
    for (const w of waiting.values()) w.reject(unavailable(err))
    waiting.clear()
  }

  worker.on('message', (m: ThreadMessage) => {
    if ('log' in m) log?.error(m.log.obj, m.log.msg)
    else if ('ready' in m) {
      stats = m.stats
      opened?.resolve(store)
      opened = undefined
      worker.unref()
    } else if ('openFailed' in m) end(fromWire(m.openFailed))
    else if ('error' in m) {
      stats = m.stats
      settle(m.id, (w) => w.reject(fromWire(m.error)))
    } else {
      stats = m.stats
      settle(m.id, (w) => w.resolve(m.value))
    }
  })
  worker.on('error', (err) => {
    log?.error({ err }, 'the queue store thread failed: events are refused until the relay is restarted')
    end(err)
  })
  worker.on('exit', (code) => {
    if (!closing)
      log?.error({ code }, 'the queue store thread ended: events are refused until the relay restarts')
    end(new Error(`the queue store thread ended (exit code ${code})`))
  })

  const enqueues = createGroupCommit<NewEvent, EnqueueResult>(
    async (events) => {
      const answers = (await call('enqueueMany', [events])) as EnqueueAnswer[]
      return answers.map((a) => ('ok' in a ? a.ok : new ItemFailure(fromWire(a.failed))))
    },
    (err) => (err instanceof RelayError ? err : unavailable(err)),
    { maxInFlight: GROUPS_IN_FLIGHT },
  )

  const across = Object.fromEntries(
    THREAD_METHODS.map((method) => [method, (...args: unknown[]) => call(method, args)]),
  ) as unknown as Omit<SqliteStore, 'kind' | 'enqueue' | 'stats'>

  const store: SqliteStore = {
    ...across,
    kind: 'sqlite',
    async enqueue(event) {
      if (closing || ended !== undefined) throw unavailable(ended ?? new Error('the queue store is closed'))
      checkNewEvent(event)
      return enqueues.submit(event)
    },
    async claim(claimOptions) {
      const claimed = (await call('claim', [claimOptions])) as Claimed[]
      for (const c of claimed) c.sealed = asBuffer(c.sealed)
      return claimed
    },
    async close() {
      if (closing) return
      closing = true
      enqueues.flush()
      // registered first, so an exit while the close is answered is not missed
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      try {
        await call('close', [])
      } finally {
        // the thread checkpoints and closes the file: the process waits for it to end
        worker.ref()
        await exited
      }
    },
    stats: () => stats,
  }

  return new Promise<SqliteStore>((resolve, reject) => {
    opened = { resolve, reject }
  })
}
