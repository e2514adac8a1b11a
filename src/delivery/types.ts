// What the delivery modules share: a batch's context and result, the worker's hooks, status and handle.
import type { Logger } from 'pino'
import type { DeliveryConfig } from '../config/schema.js'
import type { Sealer } from '../queue/crypto.js'
import type { Attempt, Claimed, Outcome } from '../queue/store.js'
import type { BreakerStatus } from './breaker.js'
import type { RwxClient, SetSecretsResult } from './rwx-client.js'
import type { ReferenceResolver } from './values.js'

/**
 * Something an operator must hear of about one secret, for notifications and alerts: it is `dead`
 * (delivery gave up), in `drift` (RWX holds another version than the relay wrote: found by the
 * reconciliation sweep), or an `outside-change` (a read-back right after a write found an older version
 * or none). Names, ids, versions and reasons only: never a value.
 */
export interface SecretSignal {
  kind: 'dead' | 'drift' | 'outside-change'
  vault: string
  name: string
  /** The source and event of the value concerned; null when not known (a drift of a purged event). */
  source: string | null
  eventId: string | null
  at: number
  /** Why, in words: the dead secret's last error, or what the versions were. */
  detail: string
  /** RWX's version the relay wrote, and the one read back (drift, outside-change). */
  written?: number | null
  readBack?: number | null
}

/** Hooks the app uses to count deliveries without the worker knowing the metrics library. */
export interface DeliveryEvents {
  /** A secret went dead, or a read-back found an outside change (see SecretSignal). */
  onSignal?(signal: SecretSignal): void
  /** Once per secret settled: `delivered`, `retry`, `dead` or `superseded`. */
  onOutcome?(kind: Outcome['kind'], vault: string): void
  /** Once per RWX request: the status (`200`, `503`, `error`...), secrets sent, and duration. */
  onRequest?(status: string, secrets: number, ms: number): void
  /** A read-back found RWX holding an older version than written (`older`), or none (`missing`). */
  onOutsideChange?(kind: 'older' | 'missing'): void
  /**
   * The worker looked for work and held back: `paused` (the global switch), `breaker` (waiting for a
   * probe) or `rate-limited` (RWX answered 429: waiting out its Retry-After).
   */
  onHold?(reason: 'paused' | 'breaker' | 'rate-limited'): void
}

/** What delivering one batch needs. */
export interface BatchContext {
  client: RwxClient
  sealer: Sealer
  resolver?: ReferenceResolver | undefined
  config: DeliveryConfig
  log: Logger
  clock: () => number
  random: () => number
  events?: DeliveryEvents | undefined
  /** Aborted when a stopping worker stops waiting for RWX, or when the round's leases may run out. */
  signal: AbortSignal
  /**
   * Marks `items` as being sent, just before their request goes out, and resolves to those the worker
   * still leases (only those are sent). Rejects when the store cannot be reached: nothing is sent then.
   */
  beforeSend(items: Claimed[]): Promise<Claimed[]>
  /**
   * RWX's version of the last value the relay delivered for `vault`/`name` (its never-regress watermark),
   * or null when there is none or it is not known.
   */
  lastVersion(vault: string, name: string): Promise<number | null>
  /** Told every RWX answer to a write to `vault`, for the worker's status. */
  onAnswer(result: SetSecretsResult, vault: string): void
}

/** What a batch did: one outcome per secret, and the attempts to record in its provenance. */
export interface BatchResult {
  outcomes: Outcome[]
  /**
   * Every outcome but a delivery (the store keeps that in the secret's own row: one row less per secret
   * on the common path), then each read-back.
   */
  attempts: Attempt[]
}
/** What `/readyz` and the admin API report about delivery. */
export interface DeliveryStatus {
  /** RWX refused the token on the last answer; true until the next 200. */
  authFailing: boolean
  /** Reason of the last failed RWX request (scrubbed: never holds a value or the token). */
  lastError?: string
  /** When RWX last answered 200 (epoch ms). */
  lastSuccessAt?: number
  /** Delivery is paused (the global switch, as last read). */
  paused: boolean
  /** The circuit breaker for RWX. */
  breaker: BreakerStatus
  /** RWX answered 429: no request goes to RWX before this time (epoch ms); absent when not waiting. */
  rateLimitedUntil?: number
  /**
   * How many vaults RWX answers 404 for now: every one, even past the listed MAX_MISSING_VAULTS, up to
   * MAX_TRACKED_MISSING_VAULTS (missing-vaults.ts).
   */
  missingVaultCount?: number
  /**
   * Vaults RWX answered 404 for (they do not exist there), by name, with when that was first seen (epoch
   * ms); a vault leaves the list at its next 200. Their secrets stay queued, retried every
   * `authRetrySeconds`. At most MAX_MISSING_VAULTS are listed (vault names may come from templates).
   */
  missingVaults?: { vault: string; since: number }[]
}

/** The most vaults `DeliveryStatus.missingVaults` lists; `missingVaultCount` counts more. */
export const MAX_MISSING_VAULTS = 20

/** The part of the worker the app sees: woken on new work, asked for its status. */
export interface DeliveryHandle {
  /** Says new work was queued, so the worker looks now instead of at its next poll. */
  notify(): void
  status(): DeliveryStatus
}

/**
 * Whether delivery makes progress, one rule for `/readyz` and the admin status: `paused` (the switch),
 * `degraded` (RWX refuses the token, the breaker is open, or RWX lacks a vault: secrets wait), else
 * `running`.
 */
export function deliveryState(
  paused: boolean,
  status: DeliveryStatus | undefined,
): 'paused' | 'degraded' | 'running' {
  if (paused) return 'paused'
  if (status === undefined) return 'running'
  const waiting = status.authFailing || status.breaker.state === 'open' || (status.missingVaultCount ?? 0) > 0
  return waiting ? 'degraded' : 'running'
}
