// The inventory as the admin API and metrics read it: the store's names plus the declared ones never seen.
import type { Store } from '../queue/store.js'
import type { DeclaredSecret } from './declared.js'
import { buildInventory, type InventoryFilter } from './state.js'
import type { InventoryEntry } from './types.js'

/** Most names one inventory read returns. */
export const INVENTORY_MAX = 10_000

/** What the admin routes and metrics need of reconciliation in this process. */
export interface ReconcileHandle {
  /** Every declared secret of every reconciling source. */
  readonly declared: readonly DeclaredSecret[]
  /** The ids of the reconciling sources (one of Vault prefixes only declares nothing before its first listing). */
  readonly sources?: readonly string[]
  resync(request: {
    source?: string | undefined
    names?: readonly { vault: string; name: string }[]
    force?: boolean
  }): Promise<{
    secrets: {
      source: string
      vault: string
      name: string
      outcome: string
      version: string | null
      error?: string
    }[]
    unknown: { vault: string; name: string }[]
  }>
}

/** The inventory, filtered (the store reads one vault when asked for one). */
export async function readInventory(
  store: Store,
  declared: readonly DeclaredSecret[],
  filter: InventoryFilter = {},
  limit = INVENTORY_MAX,
): Promise<InventoryEntry[]> {
  const facts = await store.inventory({ vault: filter.vault, limit })
  return buildInventory(facts, declared, filter)
}
