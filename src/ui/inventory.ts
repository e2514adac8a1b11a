// The Secrets page's source: every vault/name with its state. This one derives it from the store's
// recent events; the reconciling inventory (GET /admin/secrets) can stand in for it behind the same interface.
import type { EventRecord, SecretRecord, Store } from '../queue/store.js'

/** A secret's state as the console shows it (the inventory's vocabulary). */
export type SecretState = 'in-sync' | 'pending' | 'failing' | 'dead' | 'drift' | 'unknown'
export const SECRET_STATES: readonly SecretState[] = [
  'in-sync',
  'pending',
  'failing',
  'dead',
  'drift',
  'unknown',
]

/** One vault/name: where its latest value came from, what RWX holds, and its state. Never a value. */
export interface SecretRow {
  vault: string
  name: string
  source: string
  /** The event that brought the value the state is about. */
  eventId: string
  state: SecretState
  /** RWX's version written by the last delivery; null when none. */
  written: number | null
  /** The version read back, when a read-back found something else (drift); else null. */
  readBack: number | null
  /** When the state last changed (epoch ms). */
  changedAt: number
  /** The last error (scrubbed by the delivery worker), for failing and dead. */
  lastError: string | null
}

export interface InventoryFilter {
  state?: SecretState | undefined
  vault?: string | undefined
  source?: string | undefined
}

export interface SecretInventory {
  /** Every known vault/name matching `filter`, by vault then name. */
  list(filter: InventoryFilter): Promise<SecretRow[]>
}

function stateOf(s: SecretRecord, drifted: boolean): SecretState {
  if (s.status === 'queued') return s.lastError !== null ? 'failing' : 'pending'
  if (s.status === 'dead') return 'dead'
  if (s.status === 'delivered') return drifted ? 'drift' : 'in-sync'
  return 'unknown'
}

/**
 * The inventory from what the store has today: the newest `scan` events, each name's newest secret that
 * was not superseded (else its newest), and outside changes found by reading back (drift). Names whose
 * last event is older than the scan are not listed: the reconciling inventory lists every name.
 */
export function storeInventory(store: Store, options: { scan?: number } = {}): SecretInventory {
  const scan = options.scan ?? 200
  return {
    async list(filter) {
      const events = await store.listEvents({ limit: scan, source: filter.source })
      const [full, outside] = await Promise.all([
        Promise.all(events.map((e) => store.getEvent(e.source, e.eventId))),
        store.outsideChanges(100),
      ])
      const drifted = new Map(outside.latest.map((c) => [c.secretId, c.readBack]))
      const best = new Map<string, { event: EventRecord; secret: SecretRecord }>()
      for (const event of full) {
        for (const secret of event?.secrets ?? []) {
          if (filter.vault !== undefined && secret.vault !== filter.vault) continue
          const key = `${secret.vault}\u0000${secret.name}`
          const seen = best.get(key)
          if (seen === undefined || better(secret, seen.secret)) best.set(key, { event: event!, secret })
        }
      }
      const rows = [...best.values()].map(({ event, secret }): SecretRow => {
        const drift = drifted.has(secret.id) && secret.status === 'delivered'
        return {
          vault: secret.vault,
          name: secret.name,
          source: event.source,
          eventId: event.eventId,
          state: stateOf(secret, drift),
          written: secret.rwxVersion,
          readBack: drift ? (drifted.get(secret.id) ?? null) : null,
          changedAt: secret.updatedAt,
          lastError: secret.status === 'queued' || secret.status === 'dead' ? secret.lastError : null,
        }
      })
      return rows
        .filter((r) => filter.state === undefined || r.state === filter.state)
        .sort((a, b) => a.vault.localeCompare(b.vault) || a.name.localeCompare(b.name))
    },
  }
}

const live = (s: SecretRecord) => s.status !== 'superseded' && s.status !== 'discarded'

/** Whether `a` tells a name's state better than `b`: a live one first, then the newer (event time, id). */
function better(a: SecretRecord, b: SecretRecord): boolean {
  if (live(a) !== live(b)) return live(a)
  return a.eventTime !== b.eventTime ? a.eventTime > b.eventTime : a.id > b.id
}
