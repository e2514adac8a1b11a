// The queue store on PostgreSQL, shared by several relay replicas: a connection pool, migrations on start,
// leases across processes, and every failure reported as the store being unavailable.
import type { Logger } from 'pino'
import { checkNewEvent, type EnqueueResult, type Store } from '../store.js'
import { createPostgresAdmin } from './admin.js'
import { createPostgresConsole } from './console.js'
import { createPostgresEnqueue, notInTime } from './enqueue.js'
import { createPostgresLeases } from './leases.js'
import { migrate } from './migrate.js'
import { createPostgresNotifications } from './notifications.js'
import { createPostgresOperations } from './operations.js'
import { createPool, describeError, isUnreachable, ping, unavailable } from './pool.js'
import { createPostgresReconcile } from './reconcile.js'
import { createPostgresRetention } from './retention.js'
import { openWarm, warmUp } from './warm-up.js'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/db` (the `store` setting); never logged. */
  url: string
  /** Connections this replica opens at most (`postgres.poolSize`). */
  poolSize: number
  log?: Logger | undefined
  /** How long to wait for a connection before the store reports itself unavailable. Default 5000. */
  connectTimeoutMs?: number
  /** Longest a statement, or a wait for a lock, may take on the server. Default 10000. */
  statementTimeoutMs?: number
  /**
   * Longest a webhook waits for its event's commit, and /readyz for its ping (`postgres.enqueueTimeoutMs`);
   * then 503 with Retry-After. Default ENQUEUE_TIMEOUT_MS.
   */
  enqueueTimeoutMs?: number
  /**
   * How long a write whose outcome is unknown may still land at RWX (`delivery.uncertainWriteSeconds`): a
   * claim that takes over the lease of a name that was being sent fences the name that long. Default
   * UNCERTAIN_WRITE_MS.
   */
  uncertainWriteMs?: number
}

/** Default `uncertainWriteMs`, as `delivery.uncertainWriteSeconds` defaults. */
export const UNCERTAIN_WRITE_MS = 60_000

/** Default `enqueueTimeoutMs`, as `postgres.enqueueTimeoutMs` defaults. */
export const ENQUEUE_TIMEOUT_MS = 5_000

/**
 * Opens a pool on the database, migrates it to the latest schema (replicas starting together are safe:
 * migrations run under an advisory lock), then opens and warms every connection of the pool, so the
 * first events a new replica serves do not wait for cold connections. Throws when the database cannot
 * be reached or is newer than this relay; afterwards, every failure is a RelayError
 * `ERR_STORE_UNAVAILABLE` with `retryAfter`, and the pool reconnects by itself once the database is back.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  // Connections opened once the schema is there are warmed before they serve (one that replaces a
  // failed one, say); the ones of the start are opened and warmed together below.
  let warmNew = false
  const pool = createPool({
    url: options.url,
    max: options.poolSize,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    statementTimeoutMs: options.statementTimeoutMs ?? 10_000,
    log: options.log,
    onConnect: (client) => (warmNew ? warmUp(client, options.log) : Promise.resolve()),
  })
  try {
    const applied = await migrate(pool)
    if (applied > 0) options.log?.info({ applied }, 'PostgreSQL queue schema migrated')
    await openWarm(pool, options.poolSize, options.log)
    warmNew = true
  } catch (err) {
    await pool.end().catch(() => {})
    const { code, message } = describeError(err)
    throw new Error(`cannot open the PostgreSQL queue store: ${code ? `${code} ` : ''}${message}`, {
      cause: err,
    })
  }
  const leases = createPostgresLeases(pool, options.uncertainWriteMs ?? UNCERTAIN_WRITE_MS)
  const admin = createPostgresAdmin(pool)
  const retention = createPostgresRetention(pool)
  const operations = createPostgresOperations(pool)
  const reconcile = createPostgresReconcile(pool)
  const notifications = createPostgresNotifications(pool)
  const audit = createPostgresConsole(pool)
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS
  const writeEvent = createPostgresEnqueue(pool, unavailable, enqueueTimeoutMs)
  let closed = false

  /** Runs a store call, turning any failure into ERR_STORE_UNAVAILABLE. */
  async function guarded<T>(call: () => Promise<T>): Promise<T> {
    if (closed) throw unavailable(new Error('the queue store is closed'))
    try {
      return await call()
    } catch (err) {
      throw unavailable(err)
    }
  }

  // Enqueues of one event id in this process run one after another, so the first caller is the one
  // that records it (the unique index alone would let either win). Across replicas the index decides.
  const sameEvent = new Map<string, Promise<unknown>>()
  function oneAtATime<T>(key: string, call: () => Promise<T>): Promise<T> {
    const before = sameEvent.get(key)
    const run = before === undefined ? call() : before.then(call, call)
    const tail = run.catch(() => {})
    sameEvent.set(key, tail)
    void tail.then(() => {
      if (sameEvent.get(key) === tail) sameEvent.delete(key)
    })
    return run
  }

  return {
    kind: 'postgres',

    async enqueue(event): Promise<EnqueueResult> {
      checkNewEvent(event)
      return oneAtATime(`${event.source}\u0000${event.eventId}`, () => guarded(() => writeEvent(event)))
    },

    claim: (options) => guarded(() => leases.claim(options)),
    renew: (options) => guarded(() => leases.renew(options)),
    settle: (owner, now, outcomes, attempts = []) =>
      guarded(() => leases.settle(owner, now, outcomes, attempts)),
    release: (owner) => guarded(() => leases.release(owner)),
    nextDueAt: () => guarded(() => leases.nextDueAt()),

    counts: () => guarded(() => admin.counts()),
    listEvents: (query) => guarded(() => admin.listEvents(query)),
    getEvent: (source, eventId) => guarded(() => admin.getEvent(source, eventId)),
    retryEvent: (source, eventId, now) => guarded(() => admin.retryEvent(source, eventId, now)),
    discardEvent: (source, eventId, now) => guarded(() => admin.discardEvent(source, eventId, now)),
    getName: (vault, name, now) => guarded(() => admin.getName(vault, name, now)),
    resetName: (vault, name, now, options) => guarded(() => admin.resetName(vault, name, now, options)),
    purge: (before, limit) => guarded(() => retention.purge(before, limit)),
    getProvenance: (source, eventId) => guarded(() => operations.getProvenance(source, eventId)),
    outsideChanges: (limit) => guarded(() => operations.outsideChanges(limit)),
    getControl: () => guarded(() => operations.getControl()),
    setPaused: (paused, now, reason) => guarded(() => operations.setPaused(paused, now, reason)),
    inventory: (query) => guarded(() => reconcile.inventory(query)),
    recordReconcile: (marks) => guarded(() => reconcile.recordReconcile(marks)),
    claimSweep: (source, owner, now, leaseMs, force) =>
      guarded(() => reconcile.claimSweep(source, owner, now, leaseMs, force)),
    finishSweep: (source, owner, now, outcome, nextDueAt) =>
      guarded(() => reconcile.finishSweep(source, owner, now, outcome, nextDueAt)),
    sweeps: () => guarded(() => reconcile.sweeps()),
    eraseDeadValues: (now) => guarded(() => retention.eraseDeadValues(now)),
    addNotification: (n) => guarded(() => notifications.add(n)),
    claimNotifications: (owner, now, leaseMs, limit) =>
      guarded(() => notifications.claim(owner, now, leaseMs, limit)),
    finishNotification: (id, owner, result) => guarded(() => notifications.finish(id, owner, result)),
    nextNotificationAt: () => guarded(() => notifications.nextAt()),
    recordAudit: (entry) => guarded(() => audit.record(entry)),
    listAudit: (limit) => guarded(() => audit.list(limit)),
    oldestQueuedAt: () => guarded(() => audit.oldestQueuedAt()),

    async ping() {
      // Bounded like an enqueue: a frozen database must make /readyz fail, not hang it. The ping left
      // behind ends with its query's own timeout and gives its connection back then.
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(notInTime(enqueueTimeoutMs)), enqueueTimeoutMs)
      })
      try {
        await Promise.race([guarded(() => ping(pool)), late])
      } finally {
        clearTimeout(timer)
      }
    },

    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

/** How a relay waits for its database at start-up: the first pause, doubled after each try up to the last. */
export interface StartupWait {
  firstDelayMs: number
  maxDelayMs: number
}

export const STARTUP_WAIT: StartupWait = { firstDelayMs: 1_000, maxDelayMs: 30_000 }

/**
 * Opens the store, waiting for the database while it cannot be reached: a relay started before its
 * database (compose, a Kubernetes rollout, a database restarting) keeps trying, with one warning a try,
 * instead of exiting and being restarted. Anything else (a refused password, a missing database, a
 * schema newer than this relay) fails at once.
 */
export async function createPostgresStoreWhenReachable(
  options: PostgresStoreOptions,
  wait: StartupWait = STARTUP_WAIT,
): Promise<Store> {
  for (let delay = wait.firstDelayMs; ; delay = Math.min(delay * 2, wait.maxDelayMs)) {
    try {
      return await createPostgresStore(options)
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined
      if (!isUnreachable(cause)) throw err
      options.log?.warn(
        { err: describeError(cause), retryInMs: delay },
        'PostgreSQL cannot be reached yet: waiting for it before serving',
      )
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}
