// The embedded queue store on SQLite: durable commits, group-committed enqueues, leases for one process.
import { type BigIntStats, statSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { RelayError } from '../../errors.js'
import { createGroupCommit } from '../group-commit.js'
import {
  type Attempt,
  checkNewEvent,
  type EnqueueResult,
  type NewEvent,
  type Outcome,
  SECRET_STATUSES,
  type SecretStatus,
  type Store,
} from '../store.js'
import { createSqliteAdmin } from './admin.js'
import { createSqliteConsole } from './console.js'
import { createEventWriter, createNeverRegress } from './enqueue.js'
import { createSqliteLeases } from './leases.js'
import { openQueueDatabase } from './migrate.js'
import { createSqliteNotifications } from './notifications.js'
import { createSqliteOperations } from './operations.js'
import { createSqliteReconcile } from './reconcile.js'
import { createSqliteRetention } from './retention.js'

/**
 * Most outcomes one settle commit records. A commit's fsync is cheap next to the rows' work (about
 * 0.4 ms against 20–50 ms for 100 secrets on a large queue), so chunks cost little and keep the event loop
 * turning while a backlog drains.
 */
const SETTLE_CHUNK = 100

/** Lets the event loop read waiting requests before more synchronous store work. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export interface SqliteStoreOptions {
  /** Database file (the part after `sqlite:` in the `store` setting); its directory is created. */
  path: string
  /**
   * How soon after a change that erases values (delivered, dead, superseded, discarded) the WAL is
   * checkpointed and truncated, so the erased ciphertext leaves the disk: every erase within this window
   * shares one checkpoint. Default ERASE_DELAY_MS.
   */
  eraseDelayMs?: number
  /**
   * How long a write whose outcome is unknown may still land at RWX (`delivery.uncertainWriteSeconds`):
   * names leased by a previous run (it died with their requests maybe in flight) are fenced this long
   * from the start. Default UNCERTAIN_WRITE_MS.
   */
  uncertainWriteMs?: number
  /** Where the store says what goes wrong with its file (deleted or replaced while open). */
  log?: StoreLog | undefined
}

/** What the store logs with: a pino Logger, or the thread's stand-in that posts its lines to the event loop. */
export interface StoreLog {
  error(obj: Record<string, unknown>, msg: string): void
}

/** Default `uncertainWriteMs`, as `delivery.uncertainWriteSeconds` defaults. */
export const UNCERTAIN_WRITE_MS = 60_000

/** Default `eraseDelayMs`: at most one WAL checkpoint a second however many values are erased. */
export const ERASE_DELAY_MS = 1_000

/** What the store has done, for tests and metrics. */
export interface SqliteStoreStats {
  /** Enqueue transactions committed or attempted: each holds every enqueue of one tick. */
  enqueueTransactions: number
  /** Events passed to enqueue (duplicates included). */
  enqueuedEvents: number
  /** WAL checkpoints run to push erased values off the disk. */
  checkpoints: number
}

/** A Store on SQLite, with a view of its own work. */
export interface SqliteStore extends Store {
  readonly kind: 'sqlite'
  stats(): SqliteStoreStats
  /**
   * Copies the WAL into the database and truncates it, now. Runs by itself within `eraseDelayMs` of every
   * change that erases a value (delivered, dead, superseded, discarded), and when the store closes.
   */
  checkpoint(): Promise<void>
}

/** The SQLite store in the thread that opened it: it can also record a group of events at once. */
export interface LocalSqliteStore extends SqliteStore {
  /**
   * Records `events` (each already passed checkNewEvent) in one transaction, now, and answers their
   * results in order; throws for the whole group. The store's thread (thread.ts) takes each group the event
   * loop sends this way, so a group is one commit without a promise an event.
   */
  enqueueNow(events: NewEvent[]): EnqueueResult[]
}

function unavailable(err: unknown): RelayError {
  if (err instanceof RelayError) return err
  return new RelayError('ERR_STORE_UNAVAILABLE', 'the queue store cannot take the event now', {
    cause: err,
    retryAfter: 1,
  })
}

/** Opens (or creates) the queue database at `options.path`, migrated to the latest schema. */
export function createSqliteStore(options: SqliteStoreOptions): LocalSqliteStore {
  const db = openQueueDatabase(options.path)
  const fileCheck = watchOwnFile(options.path, options.log)
  fenceLeftovers(db, Date.now(), options.uncertainWriteMs ?? UNCERTAIN_WRITE_MS)
  const rules = createNeverRegress(db)
  const writer = createEventWriter(db, rules)
  let closed = false
  let enqueuedEvents = 0
  let checkpoints = 0

  const eraseDelayMs = options.eraseDelayMs ?? ERASE_DELAY_MS
  let eraseTimer: NodeJS.Timeout | undefined

  function checkpoint(): void {
    db.pragma('wal_checkpoint(TRUNCATE)')
    checkpoints++
  }
  /**
   * After a commit that erased values: the secure_delete already zeroed them in the database pages, but
   * older WAL frames still hold their ciphertext. One checkpoint within `eraseDelayMs` truncates the WAL
   * for every erase meanwhile (a checkpoint per erase would cost a database fsync each). Best effort: the
   * commit stands if it fails, and the next erase, or close, checkpoints again.
   */
  function eraseFromWal(): void {
    if (eraseTimer !== undefined || closed) return
    eraseTimer = setTimeout(() => {
      eraseTimer = undefined
      if (closed) return
      try {
        checkpoint()
      } catch {
        // the next erasing change, or close, checkpoints again
      }
    }, eraseDelayMs)
    eraseTimer.unref()
  }

  // A run that ended inside an erase window (kill -9, power loss) may have left erased values in the WAL.
  checkpoint()

  const admin = createSqliteAdmin(db, rules, eraseFromWal)
  const leases = createSqliteLeases(db)
  const retention = createSqliteRetention(db)
  const operations = createSqliteOperations(db)
  const reconcile = createSqliteReconcile(db)
  const notifications = createSqliteNotifications(db)
  const audit = createSqliteConsole(db)
  const writeEvents = db.transaction((events: NewEvent[]) =>
    events.map((e) => {
      const result = writer.write(e)
      if (!result.duplicate) operations.recordIngest(e)
      return result
    }),
  )
  let groups = 0
  function writeGroup(events: NewEvent[]): EnqueueResult[] {
    // one stat a group commit, not one an event
    fileCheck.check()
    groups++
    const erasedBefore = writer.erased
    const results = writeEvents.immediate(events)
    if (writer.erased > erasedBefore) eraseFromWal()
    return results
  }
  const enqueues = createGroupCommit<NewEvent, EnqueueResult>(writeGroup, unavailable)

  // One commit for outcomes and their provenance. An attempt is kept even when its secret's lease was
  // lost meanwhile (its outcome is then ignored): the request did happen.
  const settleAndRecord = db.transaction(
    (owner: string, now: number, outcomes: Outcome[], attempts: Attempt[]) => {
      const erased = leases.settle(owner, now, outcomes)
      operations.recordAttempts(attempts)
      return erased
    },
  )

  const countAll = db.prepare<[], { status: SecretStatus; n: number }>(
    'SELECT status, COUNT(*) AS n FROM secrets GROUP BY status',
  )

  return {
    kind: 'sqlite',

    async enqueue(event) {
      if (closed) throw unavailable(new Error('the queue store is closed'))
      fileCheck.throwIfLost()
      checkNewEvent(event)
      enqueuedEvents++
      return enqueues.submit(event)
    },
    enqueueNow(events) {
      if (closed) throw unavailable(new Error('the queue store is closed'))
      fileCheck.throwIfLost()
      enqueuedEvents += events.length
      try {
        return writeGroup(events)
      } catch (err) {
        throw unavailable(err)
      }
    },

    async claim(options) {
      const claimed = leases.claim(options)
      await nextTurn()
      return claimed
    },
    async renew(options) {
      return leases.renew(options)
    },
    async settle(owner, now, outcomes, attempts = []) {
      // In chunks, each its own commit, with a turn of the event loop after each: a backlog's rounds then
      // hold webhooks back for one chunk's work at most, not for a whole round's.
      // Each chunk records the attempts of its own secrets (the first one also any other).
      const chunks = Math.max(1, Math.ceil(outcomes.length / SETTLE_CHUNK))
      const chunkOf = new Map(outcomes.map((o, i) => [o.id, Math.floor(i / SETTLE_CHUNK)]))
      for (let n = 0; n < chunks; n++) {
        const chunk = outcomes.slice(n * SETTLE_CHUNK, (n + 1) * SETTLE_CHUNK)
        const tried = chunks === 1 ? attempts : attempts.filter((a) => (chunkOf.get(a.secretId) ?? 0) === n)
        if (settleAndRecord.immediate(owner, now, chunk, tried) > 0) eraseFromWal()
        await nextTurn()
      }
    },
    async release(owner) {
      leases.release(owner)
    },
    async nextDueAt() {
      return leases.nextDueAt()
    },

    async counts() {
      const counts = Object.fromEntries(SECRET_STATUSES.map((s) => [s, 0])) as Record<SecretStatus, number>
      for (const { status, n } of countAll.all()) counts[status] = n
      return counts
    },

    async listEvents(query) {
      return admin.listEvents(query)
    },
    async getEvent(source, eventId) {
      return admin.getEvent(source, eventId)
    },
    async retryEvent(source, eventId, now) {
      return admin.retryEvent(source, eventId, now)
    },
    async discardEvent(source, eventId, now) {
      return admin.discardEvent(source, eventId, now)
    },
    async getName(vault, name, now) {
      return admin.getName(vault, name, now)
    },
    async resetName(vault, name, now, options) {
      return admin.resetName(vault, name, now, options)
    },

    async getProvenance(source, eventId) {
      return operations.getProvenance(source, eventId)
    },
    async outsideChanges(limit) {
      return operations.outsideChanges(limit)
    },
    async getControl() {
      return operations.getControl()
    },
    async setPaused(paused, now, reason) {
      return operations.setPaused(paused, now, reason)
    },
    async recordAudit(entry) {
      audit.record(entry)
    },
    async listAudit(limit) {
      return audit.list(limit)
    },
    async oldestQueuedAt() {
      return audit.oldestQueuedAt()
    },

    async inventory(query) {
      return reconcile.inventory(query)
    },
    async recordReconcile(marks) {
      reconcile.recordReconcile(marks)
    },
    async claimSweep(source, owner, now, leaseMs, force = false) {
      return reconcile.claimSweep(source, owner, now, leaseMs, force)
    },
    async finishSweep(source, owner, now, outcome, nextDueAt) {
      reconcile.finishSweep(source, owner, now, outcome, nextDueAt)
    },
    async sweeps() {
      return reconcile.sweeps()
    },
    async eraseDeadValues(now) {
      if (closed) throw unavailable(new Error('the queue store is closed'))
      const erased = retention.eraseDeadValues(now)
      if (erased > 0) eraseFromWal()
      return erased
    },
    async addNotification(n) {
      notifications.add(n)
    },
    async claimNotifications(owner, now, leaseMs, limit) {
      return notifications.claim(owner, now, leaseMs, limit)
    },
    async finishNotification(id, owner, result) {
      notifications.finish(id, owner, result)
    },
    async nextNotificationAt() {
      return notifications.nextAt()
    },

    async purge(before, limit) {
      if (closed) throw unavailable(new Error('the queue store is closed'))
      const { events, erased } = retention.purge(before, limit)
      if (erased > 0) eraseFromWal()
      return events
    },

    async ping() {
      try {
        fileCheck.check()
        db.prepare('SELECT 1').get()
      } catch (err) {
        throw unavailable(err)
      }
    },

    async close() {
      if (closed) return
      closed = true
      clearTimeout(eraseTimer)
      enqueues.flush()
      // The last connection's close checkpoints the WAL and removes it: erased values leave with it.
      db.close()
    },

    stats() {
      return { enqueueTransactions: groups, enqueuedEvents, checkpoints }
    },

    async checkpoint() {
      checkpoint()
    },
  }
}

/**
 * One process owns an embedded database: leases left by a previous run (a crash, kill -9) are stale by
 * definition, and given back at once. But their requests may have been in flight, and may still land:
 * each such name is fenced for `uncertainWriteMs` (no value of it is sent before), and its next write
 * is confirmed by reading RWX's version back.
 */
function fenceLeftovers(db: Database.Database, now: number, uncertainWriteMs: number): void {
  db.transaction(() => {
    db.prepare(
      `INSERT INTO fences (vault, name, until, since)
       SELECT DISTINCT vault, name, @until, @now FROM secrets WHERE lease_owner IS NOT NULL
       ON CONFLICT (vault, name) DO UPDATE SET until = MAX(until, excluded.until)`,
    ).run({ now, until: now + uncertainWriteMs })
    db.prepare(
      'UPDATE secrets SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL',
    ).run()
  }).immediate()
}

/** Whether the database path still names the file the store has open. */
interface FileCheck {
  /** Throws ERR_STORE_UNAVAILABLE when the path no longer names the open file (or cannot be read now). */
  check(): void
  /** Throws once the file was found lost, without a stat. */
  throwIfLost(): void
}

/**
 * An open SQLite file that is deleted (or replaced: a restore, a `mv`) keeps working for this process,
 * but the next start opens whatever the path names then: a new, empty database, without every event
 * committed meanwhile. So the store compares the path's device and inode with the ones it opened, and
 * once they differ it refuses every event (503) and fails readiness until the relay is restarted, even
 * if a file comes back at the path. Claims and settles go on: the secrets committed before the file went
 * are only in the open file, and delivering them now is the only way they are not lost.
 * better-sqlite3 gives no file descriptor to fstat, hence the path's stat at open.
 */
function watchOwnFile(path: string, log: StoreLog | undefined): FileCheck {
  if (path === ':memory:' || path === '') return { check() {}, throwIfLost() {} }
  const opened = statSync(path, { bigint: true })
  let lost: RelayError | undefined
  function loseFile(now: BigIntStats | undefined): never {
    lost = new RelayError(
      'ERR_STORE_UNAVAILABLE',
      'the queue database file was deleted or replaced: the relay takes no event until it is restarted',
      { retryAfter: 5, cause: new Error(`${path} no longer names the open database file`) },
    )
    log?.error(
      { path, inode: String(opened.ino), nowInode: now === undefined ? null : String(now.ino) },
      'the queue database file was deleted or replaced while open: events are refused (503) and /readyz fails until the relay is restarted; secrets queued before are still delivered from the open file',
    )
    throw lost
  }
  return {
    check() {
      if (lost !== undefined) throw lost
      let now: BigIntStats
      try {
        now = statSync(path, { bigint: true })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'ENOTDIR') loseFile(undefined)
        throw unavailable(err)
      }
      if (now.ino !== opened.ino || now.dev !== opened.dev) loseFile(now)
    },
    throwIfLost() {
      if (lost !== undefined) throw lost
    },
  }
}
