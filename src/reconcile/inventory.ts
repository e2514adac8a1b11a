// The inventory as the admin API and metrics read it: the store's names plus the declared ones never seen.
import type { Store } from '../queue/store.js'
import type { DeclaredSecret } from './declared.js'
import type { Reconciler } from './reconciler.js'
import { buildInventory, type InventoryFilter } from './state.js'
import type { InventoryEntry } from './types.js'

/** Most names one inventory read returns. */
const INVENTORY_MAX = 10_000

/** What the admin routes and the console need of reconciliation in this process. */
export type ReconcileHandle = Pick<Reconciler, 'declared' | 'sources' | 'resync'>

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
