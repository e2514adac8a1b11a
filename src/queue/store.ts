// The durable queue's interface: what the ingest service and the delivery worker need from a store.
// SQLite (embedded, one process) and PostgreSQL (several replicas) implement it with the same rules.
import type { ValueRef } from '../config/schema.js'

export type SecretStatus = 'queued' | 'delivered' | 'dead' | 'superseded' | 'discarded'
export const SECRET_STATUSES: readonly SecretStatus[] = [
  'queued',
  'delivered',
  'dead',
  'superseded',
  'discarded',
]

/** One secret to queue. Exactly one of `sealed` and `ref` is set. */
export interface NewSecret {
  vault: string
  name: string
  description?: string | undefined
  /** The value, encrypted by queue/crypto.ts. Never plaintext. */
  sealed: Buffer | null
  /** A reference to fetch the value at delivery (AWS Secrets Manager, …); never holds a value. */
  ref: ValueRef | null
  /** Keyed fingerprint of the value (null for references: the value is not known yet). */
  fingerprint: string | null
}

export interface NewEvent {
  source: string
  eventId: string
  /** Event time from the provider, epoch ms: orders writes of one name (never regress). */
  eventTime: number
  receivedAt: number
  secrets: NewSecret[]
  /** How the event was verified and mapped, recorded with it (never a key or a value). */
  provenance?: IngestProvenance | undefined
}

/** How an event came in: the verifier, which configured key matched, and the rule behind each secret. */
export interface IngestProvenance {
  /** The source's `verify.type`. */
  verifier: string
  /** Which key matched, by position or kid (`secrets[1]`, `kid:2024-05`); never the key itself. */
  keyId: string | null
  /** Per secret, in `secrets` order: the rule that produced it (`rules[0].secrets[1]`). */
  rules: string[]
}

/** One thing that happened to a secret on its way to RWX, for the admin API's provenance. */
export interface Attempt {
  secretId: number
  at: number
  /**
   * An outcome of a request (`delivered`, `retry`, `dead`, `superseded`), or what reading the secret back
   * found (`read-back`, `outside-change`, `read-back-failed`).
   */
  outcome: string
  /** RWX's HTTP status (`200`, `503`), `error` for a network failure, null when nothing was sent. */
  status: string | null
  /** RWX's version: written (delivered) or read back. */
  version: number | null
  error: string | null
}

/** An event's provenance as stored: ingest facts and every attempt of its secrets, oldest first. */
export interface ProvenanceRecord {
  verifier: string | null
  keyId: string | null
  /** Rule by secret id. */
  rules: Record<number, string>
  /** Attempts by secret id. */
  attempts: Record<number, Attempt[]>
}

/** A read-back that found RWX holding an older version than the one written, or nothing. */
export interface OutsideChange {
  source: string
  eventId: string
  secretId: number
  vault: string
  name: string
  at: number
  written: number | null
  /** Null: RWX answered 404. */
  readBack: number | null
}

/** The global pause switch, shared by every replica on the store. */
export interface ControlState {
  paused: boolean
  /** When the switch last changed (epoch ms); null when never. */
  changedAt: number | null
  /** What the operator said when pausing. */
  reason: string | null
}

export interface EnqueueResult {
  /** The event id was already accepted for this source: nothing was written. */
  duplicate: boolean
  /** Secrets now waiting for delivery. */
  queued: number
  /** Secrets recorded as superseded on arrival (a newer value was already delivered or queued). */
  superseded: number
}

/** A queued secret leased to one worker. */
export interface Claimed {
  id: number
  source: string
  eventId: string
  vault: string
  name: string
  description: string | null
  sealed: Buffer | null
  ref: ValueRef | null
  attempts: number
  eventTime: number
  createdAt: number
  /** Send alone: a batch holding it was refused with 400. */
  solo: boolean
  /**
   * An earlier write of this name has an unknown outcome (its fence has run out, but no write has been
   * confirmed since): read RWX's version back after writing, and write again if RWX holds a newer one
   * (the earlier write landed after this one).
   */
  unconfirmed: boolean
}

export type Outcome =
  | {
      id: number
      kind: 'delivered'
      version: number | null
      fingerprint?: string | null
      /**
       * RWX's version was read back and matches this write: the name's fence (an earlier write with an
       * unknown outcome) is lifted for good.
       */
      confirmed?: boolean
    }
  | {
      id: number
      kind: 'retry'
      at: number
      error: string
      /** False for RWX auth failures: they never use up attempts (a token fix must not lose secrets). */
      countAttempt: boolean
      solo?: boolean
      /** The request's outcome is unknown (it may still land): fence the name until then. See Claimed.unconfirmed. */
      fenceUntil?: number
    }
  | {
      id: number
      kind: 'dead'
      error: string
      fenceUntil?: number
      /**
       * Keep the secret's sealed value until then (epoch ms), so an admin retry can still deliver it
       * (`delivery.keepDeadValuesSeconds`); without it the value is erased now.
       */
      keepValueUntil?: number
    }
  | { id: number; kind: 'superseded'; error: string }

/** The owner a fence holds a name's lease under (PostgreSQL) : no worker is ever named so. */
export const FENCE_OWNER = '(unknown outcome)'

export interface SecretRecord {
  id: number
  vault: string
  name: string
  description: string | null
  status: SecretStatus
  /** Value comes from a value store at delivery (the reference, never a value). */
  ref: ValueRef | null
  attempts: number
  nextAttemptAt: number | null
  lastError: string | null
  rwxVersion: number | null
  fingerprint: string | null
  eventTime: number
  createdAt: number
  updatedAt: number
  deliveredAt: number | null
}

export interface EventRecord {
  source: string
  eventId: string
  eventTime: number
  receivedAt: number
  /** Counts of this event's secrets by status. */
  counts: Partial<Record<SecretStatus, number>>
  secrets?: SecretRecord[]
}

export interface ListQuery {
  source?: string | undefined
  /** Events with at least one secret in this status. */
  status?: SecretStatus | undefined
  limit: number
  /** Receive time (epoch ms) to page before. */
  before?: number | undefined
}

/** The never-regress watermark of a name: the newest value written to RWX (by event time, then arrival). */
export interface DeliveredMark {
  /** Event time of the value written (epoch ms). */
  eventTime: number
  secretId: number
  /** The event that brought it; null once retention has purged that event (the watermark stays). */
  source: string | null
  eventId: string | null
  rwxVersion: number | null
  /** When the watermark last moved (epoch ms). */
  updatedAt: number
}

/** A vault and name as the admin API shows it: its watermark, what waits, and its fence. Never a value. */
export interface NameState {
  vault: string
  name: string
  /** Null when no value of the name has been delivered (or the watermark was reset since). */
  delivered: DeliveredMark | null
  /** Values of the name waiting for delivery (queued). */
  queued: number
  /** A value of the name is being sent now (under a live worker lease). */
  inFlight: boolean
  /** Until when no value of the name is sent (a write with an unknown outcome may land); null when none. */
  fencedUntil: number | null
  /** The name's next write is read back to confirm it (an earlier write's outcome is unknown). */
  unconfirmed: boolean
  /** When the first unconfirmed outcome was recorded; null when the name is not unconfirmed. */
  unconfirmedSince: number | null
}

/** The state of a name with nothing to show (what a reset leaves when the watermark was all there was). */
export function quietName(vault: string, name: string): NameState {
  return {
    vault,
    name,
    delivered: null,
    queued: 0,
    inFlight: false,
    fencedUntil: null,
    unconfirmed: false,
    unconfirmedSince: null,
  }
}

/** What `resetName` did. */
export interface NameReset {
  /** The watermark that was cleared; null when there was none (nothing to reset). */
  previous: DeliveredMark | null
  /** A live fence was lifted (only when asked). */
  fenceLifted: boolean
  /** The name's state after the reset. */
  state: NameState
}

/** What reconciliation recorded of one vault and name (never a value). */
export interface ReconcileMark {
  vault: string
  name: string
  /** The source that reconciles the name. */
  source: string
  /** The newest source version the relay queued, or saw queued or delivered, for the name. */
  sourceVersion: string | null
  /** When a sweep (or resync) last looked at the name (epoch ms). */
  checkedAt: number | null
  /** What that look found: `in-sync`, `queued`, `drift`, `repair`, `missing`, `failed`. */
  outcome: string | null
  /** Why a look failed (the store's reason; never a value). */
  error: string | null
  /** RWX's version read back by that look; null when not read. */
  rwxVersion: number | null
}

/** The newest secret of a name that is not superseded, as the inventory shows it. Never a value. */
export interface LatestSecret {
  secretId: number
  source: string
  eventId: string
  status: SecretStatus
  ref: ValueRef | null
  attempts: number
  lastError: string | null
  createdAt: number
  updatedAt: number
}

/** Everything the store knows of one vault and name, from which the inventory's state is worked out. */
export interface InventoryFacts {
  vault: string
  name: string
  /** Null when every secret of the name is gone (purged) or superseded. */
  latest: LatestSecret | null
  /** When the oldest value still queued for the name arrived (epoch ms); null when none waits. */
  oldestQueuedAt: number | null
  /** The never-regress watermark: RWX's version the relay wrote and when; null when none was delivered. */
  written: { version: number | null; at: number } | null
  /** The last read of RWX's version after a write (`read-back` or `outside-change`). */
  readBack: { at: number; version: number | null; outcome: string } | null
  reconcile: ReconcileMark | null
}

/** Which names `Store.inventory` returns: all (up to `limit`, by vault and name), or one vault, or one name. */
export interface InventoryQuery {
  vault?: string | undefined
  name?: string | undefined
  limit: number
}

/** A source's sweep as stored: shared by every replica on the store. */
export interface SweepState {
  source: string
  lastAt: number | null
  lastOkAt: number | null
  lastOutcome: string | null
  nextDueAt: number | null
  /** The replica sweeping now, while its lease lasts. */
  leaseOwner: string | null
  leaseUntil: number | null
}

/** An operator's action, recorded for the console's audit list (who, when, what). Never a value or a token. */
export interface NewAuditEntry {
  /** When it was done (epoch ms). */
  at: number
  /** Who: the token kind and session (`admin:3f9a1c2b`, `read-only:…`), never the token. */
  actor: string
  /** What: `pause`, `resume`, `retry`, `discard`, `retry-dead`, `discard-dead`, … */
  action: string
  /** On what: an event (`source/eventId`), a filter, or null for the whole relay. */
  target: string | null
  /** The reason given, or what the action changed (`3 queued`); bounded by the caller. */
  detail: string | null
}

/** A recorded action, as `listAudit` returns it. */
export interface AuditEntry extends NewAuditEntry {
  id: number
}

export interface ClaimOptions {
  owner: string
  now: number
  leaseMs: number
  limit: number
}

/** A secret's lease, by the secret and its name. */
export interface LeaseKey {
  id: number
  vault: string
  name: string
}

export interface RenewOptions {
  owner: string
  now: number
  /** The renewed leases last until `now + leaseMs` (never shortened). */
  leaseMs: number
  items: readonly LeaseKey[]
  /**
   * The items' requests are about to go out: mark their names as being sent, so that whoever takes over
   * an expired lease fences the name rather than sending at once (the request may still land). SQLite
   * keeps no mark: one process, and its next start fences every lease a dead run left.
   */
  sending?: boolean
}

/** A notification to send (`notify`), as the outbox keeps it until the receiver takes it. */
export interface NewNotification {
  /** Its stable `webhook-id` (`msg_…`): the same on every try, so the receiver can drop repeats. */
  id: string
  /** What it announces: `dead`, `drift` or `outside-change`. */
  kind: string
  /** The JSON body to post, as signed (never a value). */
  body: string
  /** When it was queued (epoch ms); the first try is due then. */
  createdAt: number
}

/** A notification leased for sending. */
export interface PendingNotification extends NewNotification {
  /** Tries so far, this one included (counted when it is leased, so a crash mid-send counts too). */
  attempts: number
}

/** What one try of a notification came to: `sent` and `failed` (given up) remove it, `retry` keeps it. */
export type NotificationResult =
  | { kind: 'sent' }
  | { kind: 'failed'; error: string }
  | { kind: 'retry'; at: number; error: string }

export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /**
   * Durably records an event and its secrets, or reports a duplicate. Resolves only after commit.
   * Applies never-regress: per vault and name, an older queued value is superseded by a newer one,
   * and a value older than the last delivered one is recorded as superseded.
   */
  enqueue(event: NewEvent): Promise<EnqueueResult>
  /**
   * Leases up to `limit` due secrets to `owner`. Never leases a secret whose vault and name has
   * another secret under a live lease, so one name is never written twice at once.
   */
  claim(options: ClaimOptions): Promise<Claimed[]>
  /**
   * Extends `owner`'s leases of `items` to `now + leaseMs` (the worker's heartbeat: a live worker never
   * loses a lease, however long RWX takes) and returns the ids whose lease `owner` still holds. A lease
   * that ran out is renewed if no one took it since; one another worker (or a fence) holds is not.
   */
  renew(options: RenewOptions): Promise<Set<number>>
  /**
   * Records outcomes of leased secrets; ignores any whose lease `owner` no longer holds. `attempts`, if
   * given, are appended to their secrets' provenance, in the same transaction where the store can, also
   * for a secret whose lease was lost meanwhile (the request did happen). A delivery needs none: the
   * store shows it from the secret's row (`getProvenance`).
   */
  settle(owner: string, now: number, outcomes: Outcome[], attempts?: Attempt[]): Promise<void>
  /** Gives back every lease `owner` holds (graceful shutdown). */
  release(owner: string): Promise<void>
  /** Earliest time a queued secret is due, or null when none is queued. */
  nextDueAt(): Promise<number | null>
  counts(): Promise<Record<SecretStatus, number>>
  listEvents(query: ListQuery): Promise<EventRecord[]>
  getEvent(source: string, eventId: string): Promise<EventRecord | null>
  /**
   * Makes an event's queued secrets due now, and re-queues its dead secrets that can still be
   * delivered (references, and values kept past their death until `keepValueUntil`; an erased value
   * cannot come back). Returns how many are now queued.
   */
  retryEvent(source: string, eventId: string, now: number): Promise<number>
  /**
   * Discards an event's queued and dead secrets, erasing their values (a dead value kept for a retry
   * too); delivered and superseded ones stay as they are. Returns how many were discarded.
   */
  discardEvent(source: string, eventId: string, now: number): Promise<number>
  /**
   * Deletes up to `limit` events received before `before` (epoch ms, oldest first) that are finished:
   * every secret delivered, dead, superseded or discarded (or none at all), and no lease that lasts past
   * `before` (a superseded value may still be in flight). Their secrets go with them, in one transaction.
   * Returns how many events it deleted. The never-regress watermark per vault and name is kept, so a late
   * older event is still superseded; the dedup key goes, so a purged event id is accepted again as new.
   */
  purge(before: number, limit: number): Promise<number>
  /**
   * The event's provenance, or null when the event is unknown. Each secret's attempts come oldest first:
   * what `settle` recorded, with its delivery (when RWX took it, as recorded by settle) before its
   * read-backs.
   */
  getProvenance(source: string, eventId: string): Promise<ProvenanceRecord | null>
  /** The latest outside changes found by reading back, newest first. */
  outsideChanges(limit: number): Promise<{ total: number; latest: OutsideChange[] }>
  /** The pause switch as stored (every replica reads the same row). */
  getControl(): Promise<ControlState>
  /** Sets the pause switch; returns the state now stored. */
  setPaused(paused: boolean, now: number, reason: string | null): Promise<ControlState>
  /**
   * The never-regress state of one vault and name at `now` (fence and lease times are compared with it),
   * or null when the store knows nothing of the name (no watermark, no secret, no fence).
   */
  getName(vault: string, name: string, now: number): Promise<NameState | null>
  /**
   * Clears the name's never-regress watermark, so a value with an earlier event time than the last one
   * delivered can be delivered again; with `liftFence`, also ends a live fence at once (the name stays
   * unconfirmed: its next write is still read back). Values already superseded stay superseded: nothing
   * is revived (their values are erased). Null when the name is unknown, as `getName`.
   */
  resetName(
    vault: string,
    name: string,
    now: number,
    options: { liftFence: boolean },
  ): Promise<NameReset | null>
  /**
   * Every vault and name the store knows (a watermark, a secret, or a reconcile mark), sorted by vault and
   * name, with the facts the inventory's states are made of. Never a value.
   */
  inventory(query: InventoryQuery): Promise<InventoryFacts[]>
  /** Records what reconciliation found of each name (replaces the name's mark). */
  recordReconcile(marks: ReconcileMark[]): Promise<void>
  /**
   * Takes the sweep of `source` for `owner` until `now + leaseMs` when it is due (`force`: due or not) and no
   * other owner's lease lives; returns whether it did and the sweep as stored.
   */
  claimSweep(
    source: string,
    owner: string,
    now: number,
    leaseMs: number,
    force?: boolean,
  ): Promise<{ claimed: boolean; state: SweepState }>
  /** Ends `owner`'s sweep of `source`: its outcome and the next one due; the lease goes. */
  finishSweep(
    source: string,
    owner: string,
    now: number,
    outcome: 'ok' | 'failed',
    nextDueAt: number,
  ): Promise<void>
  /** Every source's sweep as stored. */
  sweeps(): Promise<SweepState[]>
  /** Erases the kept values of dead secrets whose time ran out by `now`; returns how many. */
  eraseDeadValues(now: number): Promise<number>
  /** Queues a notification in the outbox, committed on return; an id already there is left as it is. */
  addNotification(notification: NewNotification): Promise<void>
  /**
   * Leases up to `limit` notifications due at `now` to `owner` for `leaseMs` (one not leased, or whose
   * lease ran out), oldest first, counting a try on each.
   */
  claimNotifications(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
  ): Promise<PendingNotification[]>
  /** Records a try of a leased notification; ignored when `owner` no longer holds its lease. */
  finishNotification(id: string, owner: string, result: NotificationResult): Promise<void>
  /** Earliest time a notification is due (leased ones: when their lease ends), or null when none waits. */
  nextNotificationAt(): Promise<number | null>
  /** Records an operator's action durably (the audit list every replica shares). */
  recordAudit(entry: NewAuditEntry): Promise<void>
  /** The latest `limit` recorded actions, newest first. */
  listAudit(limit: number): Promise<AuditEntry[]>
  /** When the oldest secret still queued was accepted (epoch ms), or null when none is queued. */
  oldestQueuedAt(): Promise<number | null>
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** Throws on an event the store must not record; checked before it joins a batch it could spoil. */
export function checkNewEvent(event: NewEvent): void {
  if (!Number.isFinite(event.eventTime) || !Number.isFinite(event.receivedAt)) {
    throw new TypeError('enqueue: eventTime and receivedAt must be finite epoch milliseconds')
  }
  for (const s of event.secrets) {
    if ((s.sealed === null) === (s.ref === null)) {
      throw new TypeError('enqueue: each secret needs exactly one of sealed and ref')
    }
  }
}
