// The durable queue's interface: what the ingest service and the delivery worker need from a store.
// SQLite (embedded, one process) and PostgreSQL (several replicas) implement it with the same rules.
import type { AwsValueRef } from '../config/schema.js'

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
  /** A reference to fetch the value at delivery (AWS Secrets Manager); never holds a value. */
  ref: AwsValueRef | null
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
  ref: AwsValueRef | null
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
  | { id: number; kind: 'dead'; error: string; fenceUntil?: number }
  | { id: number; kind: 'superseded'; error: string }

/** The owner a fence holds a name's lease under (PostgreSQL) : no worker is ever named so. */
export const FENCE_OWNER = '(unknown outcome)'

export interface SecretRecord {
  id: number
  vault: string
  name: string
  description: string | null
  status: SecretStatus
  /** Value comes from AWS Secrets Manager at delivery (the reference, never a value). */
  ref: AwsValueRef | null
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
   * delivered (references; an erased value cannot come back). Returns how many are now queued.
   */
  retryEvent(source: string, eventId: string, now: number): Promise<number>
  /** Discards an event's queued secrets, erasing their values. Returns how many. */
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
