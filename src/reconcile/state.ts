// The inventory: the store's facts per vault and name, and the declared secrets, turned into states.
import { isVaultRef, type ValueRef } from '../config/schema.js'
import { compareRotations } from '../delivery/vault/database.js'
import type { InventoryFacts } from '../queue/store.js'
import type { DeclaredSecret } from './declared.js'
import type { InventoryEntry, InventoryState } from './types.js'

/** The version a reference names (`versionId` for AWS, `version` for stores that number them), if any. */
export function refVersion(ref: unknown): string | null {
  if (ref === null || typeof ref !== 'object') return null
  const r = ref as { versionId?: unknown; version?: unknown }
  const v = r.versionId ?? r.version
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null
}

/**
 * True when `version` of `ref` is older than `than`, for stores whose versions keep their order for
 * good: database static role rotations (last_vault_rotation). KV numbers are not compared: a secret
 * deleted with its metadata and written again starts at 1 (delivery fences a stale KV version anyway).
 */
export function olderVersion(ref: ValueRef, version: string, than: string): boolean {
  return isVaultRef(ref) && ref.engine === 'database' && compareRotations(version, than) < 0
}

/** A name's state from what the store knows of it. */
export function stateOf(f: InventoryFacts | undefined): InventoryState {
  if (f === undefined) return 'unknown'
  const latest = f.latest
  if (latest?.status === 'dead') return 'dead'
  if (latest?.status === 'queued')
    return latest.attempts > 0 && latest.lastError !== null ? 'failing' : 'pending'
  if (f.written === null) return latest?.status === 'delivered' ? 'in-sync' : 'unknown'
  const writtenAt = f.written.at
  const m = f.reconcile
  if (m?.outcome === 'drift' && (m.checkedAt ?? 0) >= writtenAt) return 'drift'
  if (f.readBack?.outcome === 'outside-change' && f.readBack.at >= writtenAt) return 'drift'
  return 'in-sync'
}

/** The newest source version known for a name: its newest value's reference, else the last sweep's. */
export function knownVersion(f: InventoryFacts | undefined): string | null {
  const latest = f?.latest
  if (latest != null && latest.status !== 'discarded' && latest.ref !== null) {
    const v = refVersion(latest.ref)
    if (v !== null) return v
  }
  return f?.reconcile?.sourceVersion ?? null
}

/** One inventory entry from the store's facts (and the declared secret, for a name never seen). */
function entryOf(f: InventoryFacts | undefined, declared?: DeclaredSecret): InventoryEntry {
  const latest = f?.latest ?? null
  const m = f?.reconcile ?? null
  const sweepRead =
    m?.checkedAt != null && m.rwxVersion !== null
      ? { version: m.rwxVersion, at: m.checkedAt, outcome: 'sweep' }
      : null
  const afterWrite = f?.readBack ?? null
  const readBack =
    sweepRead !== null && (afterWrite === null || sweepRead.at >= afterWrite.at) ? sweepRead : afterWrite
  const state = stateOf(f)
  return {
    vault: f?.vault ?? declared?.vault ?? '',
    name: f?.name ?? declared?.name ?? '',
    state,
    source: latest?.source ?? m?.source ?? declared?.source ?? null,
    sourceRef: latest?.ref ?? declared?.ref ?? null,
    sourceVersion: knownVersion(f),
    eventId: latest?.eventId ?? null,
    written: f?.written ?? null,
    readBack,
    lastReconcile: m === null ? null : { at: m.checkedAt, outcome: m.outcome, error: m.error },
    pendingSince: state === 'pending' || state === 'failing' ? (f?.oldestQueuedAt ?? null) : null,
    lastError: state === 'failing' || state === 'dead' ? (latest?.lastError ?? null) : null,
  }
}

/** A filter of the inventory (`GET /admin/secrets?state=&vault=&source=`). */
export interface InventoryFilter {
  state?: InventoryState | undefined
  vault?: string | undefined
  source?: string | undefined
}

/**
 * The inventory: every name the store knows plus every declared name it does not (state `unknown`),
 * sorted by vault and name, filtered.
 */
export function buildInventory(
  facts: readonly InventoryFacts[],
  declared: readonly DeclaredSecret[],
  filter: InventoryFilter = {},
): InventoryEntry[] {
  const byKey = new Map<string, InventoryEntry>()
  for (const f of facts) byKey.set(`${f.vault}/${f.name}`, entryOf(f))
  for (const d of declared) {
    const key = `${d.vault}/${d.name}`
    const entry = byKey.get(key)
    if (entry === undefined) byKey.set(key, entryOf(undefined, d))
    else if (entry.sourceRef === null && entry.source === null) entry.sourceRef = d.ref
  }
  const out = [...byKey.values()].filter(
    (e) =>
      (filter.state === undefined || e.state === filter.state) &&
      (filter.vault === undefined || e.vault === filter.vault) &&
      (filter.source === undefined || e.source === filter.source),
  )
  return out.sort((a, b) =>
    a.vault === b.vault ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.vault < b.vault ? -1 : 1,
  )
}

/** Counts of entries by state (every state present, 0 when none). */
export function summarize(entries: readonly InventoryEntry[]): { byState: Map<InventoryState, number> } {
  const byState = new Map<InventoryState, number>()
  for (const e of entries) byState.set(e.state, (byState.get(e.state) ?? 0) + 1)
  return { byState }
}
