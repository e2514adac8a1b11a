// The SQLite store's own thread: it owns the database connection, so fsync'd commits run beside the event loop.
import { parentPort, workerData } from 'node:worker_threads'
import { checkNewEvent, type EnqueueResult, type NewEvent } from '../store.js'
import { createSqliteStore, type LocalSqliteStore, type SqliteStoreOptions } from './store.js'
import {
  asBuffer,
  type EnqueueAnswer,
  THREAD_METHODS,
  type ThreadCall,
  type ThreadMessage,
  toWire,
} from './thread-wire.js'

if (parentPort === null) throw new Error('queue/sqlite/thread.ts runs as a worker thread (see on-thread.ts)')
const port = parentPort
const post = (message: ThreadMessage) => port.postMessage(message)
const methods = new Set<string>(THREAD_METHODS)

/** A sealed value arrives as a Uint8Array: better-sqlite3 binds Buffers. */
function revive(event: NewEvent): NewEvent {
  for (const s of event.secrets) s.sealed = asBuffer(s.sealed)
  return event
}

/**
 * A group from the event loop in one transaction: an event that fails its checks fails alone, a failed
 * commit fails the group (the caller's answer for each of them).
 */
function enqueueMany(store: LocalSqliteStore, events: NewEvent[]): EnqueueAnswer[] {
  const answers: EnqueueAnswer[] = new Array(events.length)
  const taken: number[] = []
  events.forEach((event, i) => {
    try {
      checkNewEvent(revive(event))
      taken.push(i)
    } catch (err) {
      answers[i] = { failed: toWire(err) }
    }
  })
  const results = taken.length === 0 ? [] : store.enqueueNow(taken.map((i) => events[i] as NewEvent))
  taken.forEach((i, k) => {
    answers[i] = { ok: results[k] as EnqueueResult }
  })
  return answers
}

/** The store, or null (said to the event loop) when the database cannot be opened. */
function open(): LocalSqliteStore | null {
  try {
    return createSqliteStore({
      ...(workerData as Omit<SqliteStoreOptions, 'log'>),
      log: { error: (obj, msg) => post({ log: { obj, msg } }) },
    })
  } catch (err) {
    post({ openFailed: toWire(err) })
    port.close()
    return null
  }
}

const opened = open()
if (opened !== null) {
  const store = opened
  post({ ready: true, stats: store.stats() })
  port.on('message', (call: ThreadCall) => answer(store, call))
}

/** Answers being worked out: a close waits for them, so no answer is posted after the port closes. */
const answering = new Set<Promise<void>>()

function answer(store: LocalSqliteStore, call: ThreadCall): void {
  const done = work(store, call).finally(() => answering.delete(done))
  answering.add(done)
}

async function work(store: LocalSqliteStore, call: ThreadCall): Promise<void> {
  // (taken before this call's own answer is added)
  const before = call.method === 'close' ? [...answering] : []
  try {
    let value: unknown
    if (call.method === 'enqueueMany') value = enqueueMany(store, call.args[0])
    else if (methods.has(call.method)) {
      const method = store[call.method] as (...args: unknown[]) => Promise<unknown>
      value = await method.apply(store, call.args)
    } else throw new Error(`the store has no method ${String(call.method)}`)
    // the close committed every group still open: their answers go first, then the thread ends
    await Promise.allSettled(before)
    post({ id: call.id, value, stats: store.stats() })
  } catch (err) {
    post({ id: call.id, error: toWire(err), stats: store.stats() })
  }
  if (call.method === 'close') port.close()
}
