// The retention job: at start-up and then every hour, erases the kept values of dead secrets whose time
// ran out (delivery.keepDeadValuesSeconds) and, with `retention.days` set, deletes finished events older
// than that (and their secrets), a chunk at a time, so the store stops growing forever.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import { errorFields } from '../log.js'
import type { Store } from './store.js'

export const DAY_MS = 86_400_000
/** How often the job runs after the one at start-up. */
export const PURGE_INTERVAL_MS = 3_600_000
/** Events per purge transaction: short enough that no transaction holds the store for long. */
export const PURGE_CHUNK = 1_000

export interface RetentionJobOptions {
  store: Store
  /** `retention.days`: finished events received longer ago than this are deleted; undefined keeps them. */
  days: number | undefined
  log: Logger
  /** Epoch ms; the store's notion of now. Default Date.now. */
  clock?: () => number
  /** Counts the events deleted (`relay_purged_events_total`). */
  purged?: Pick<Counter, 'inc'> | undefined
  /** Time between runs. Default PURGE_INTERVAL_MS. */
  intervalMs?: number
  /** Events per purge call. Default PURGE_CHUNK. */
  chunk?: number
}

export interface RetentionJob {
  /** Runs once now, then every `intervalMs` (a timer that never keeps the process up); twice does nothing. */
  start(): void
  /**
   * Purges now, chunk after chunk until one comes back short; a run already under way is joined. Resolves
   * to how many events it deleted. Never rejects: a store failure is logged, and the next run tries again.
   */
  run(): Promise<number>
  /** Stops the schedule and waits for a purge under way, which stops after its current chunk. */
  stop(): Promise<void>
}

/** Creates the job; nothing runs until `start()` or `run()`. */
export function createRetentionJob(options: RetentionJobOptions): RetentionJob {
  const { store, log } = options
  const clock = options.clock ?? Date.now
  const intervalMs = options.intervalMs ?? PURGE_INTERVAL_MS
  const chunk = options.chunk ?? PURGE_CHUNK
  let running: Promise<number> | undefined
  let timer: NodeJS.Timeout | undefined
  let started = false
  let stopping = false

  async function eraseDeadValues(): Promise<void> {
    try {
      const erased = await store.eraseDeadValues(clock())
      if (erased > 0)
        log.info({ erased }, 'erased the kept values of dead secrets past delivery.keepDeadValuesSeconds')
    } catch (err) {
      log.warn(
        { err: errorFields(err) },
        'erasing the kept values of dead secrets failed; trying again at the next run',
      )
    }
  }

  async function purgeAll(): Promise<number> {
    await eraseDeadValues()
    if (options.days === undefined) return 0
    const before = clock() - options.days * DAY_MS
    let deleted = 0
    try {
      while (!stopping) {
        const n = await store.purge(before, chunk)
        deleted += n
        if (n > 0) options.purged?.inc(n)
        if (n < chunk) break
        // SQLite purges synchronously: let requests and deliveries through between chunks.
        await nextTurn()
      }
    } catch (err) {
      log.warn({ err: errorFields(err), deleted }, 'purging old events failed; trying again at the next run')
    }
    if (deleted > 0) {
      log.info(
        { deleted, receivedBefore: new Date(before).toISOString(), days: options.days },
        'purged finished events past retention',
      )
    }
    return deleted
  }

  function run(): Promise<number> {
    running ??= purgeAll().finally(() => {
      running = undefined
    })
    return running
  }

  function schedule(): void {
    if (stopping) return
    timer = setTimeout(() => {
      void run().then(schedule)
    }, intervalMs)
    timer.unref()
  }

  return {
    start() {
      if (started || stopping) return
      started = true
      void run().then(schedule)
    },
    run,
    async stop() {
      stopping = true
      clearTimeout(timer)
      await running
    },
  }
}
