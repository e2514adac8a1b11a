// What the reconciliation modules share: the inventory's states and entries, and the sweep's hooks.
import type { ValueRef } from '../config/schema.js'
import type { SecretSignal } from '../delivery/types.js'

/** The states of a vault and name in the inventory. */
export const INVENTORY_STATES = ['in-sync', 'pending', 'failing', 'dead', 'drift', 'unknown'] as const
export type InventoryState = (typeof INVENTORY_STATES)[number]

/** One vault and name the relay writes, as `GET /admin/secrets` shows it. Never a value. */
export interface InventoryEntry {
  vault: string
  name: string
  /**
   * `in-sync` (the newest value is in RWX), `pending` (a value waits for delivery), `failing` (it waits
   * after failed tries), `dead` (delivery gave up on the newest value), `drift` (RWX holds another version
   * than the relay wrote), `unknown` (declared for reconciliation, never seen).
   */
  state: InventoryState
  /** The source of the newest value (or the reconciling source). */
  source: string | null
  /** Where the newest value is read from at delivery; null for a value from a webhook payload. */
  sourceRef: ValueRef | null
  /** The newest source version seen (a reference's version, or the one the last sweep found current). */
  sourceVersion: string | null
  /** The event of the newest value. */
  eventId: string | null
  /** RWX's version the relay wrote, and when (epoch ms). */
  written: { version: number | null; at: number } | null
  /** RWX's version as last read back (after a write, or by a sweep), and when. */
  readBack: { version: number | null; at: number; outcome: string } | null
  /** The last reconciliation of the name. */
  lastReconcile: { at: number | null; outcome: string | null; error: string | null } | null
  /** Since when a value waits (pending, failing): epoch ms. */
  pendingSince: number | null
  /** Why the newest value failed (failing, dead). */
  lastError: string | null
}

/** What a sweep found and did for one declared secret. */
export type SweepOutcome = 'in-sync' | 'queued' | 'drift' | 'repair' | 'missing' | 'failed'

/** Hooks the wiring subscribes to (metrics, notifications); never given a value. */
export interface ReconcileEvents {
  /** A source's sweep ended. */
  onSweep?(source: string, outcome: 'ok' | 'failed', at: number): void
  /** A drift was found (SecretSignal kind `drift`). */
  onSignal?(signal: SecretSignal): void
}
