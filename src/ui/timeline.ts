// A secret's history for its console page: the inventory entry, the name's never-regress state, and a
// timeline of the events that brought its values, their attempts and read-backs, and the last reconcile.
import type { NameState, SecretStatus, Store } from '../queue/store.js'
import type { DeclaredSecret } from '../reconcile/declared.js'
import { buildInventory } from '../reconcile/state.js'
import type { InventoryEntry } from '../reconcile/types.js'

/** Newest events looked at for a name's history (with its latest and last delivered events, always). */
export const HISTORY_SCAN = 200

/** One line of the timeline. Never a value. */
export interface TimelineItem {
  at: number
  /** `event` (a value arrived), `attempt` (a write, a retry, a read-back), `reconcile` (the last look). */
  kind: 'event' | 'attempt' | 'reconcile'
  /** What happened: an attempt's outcome, a reconcile's outcome, or the secret's status for an event. */
  what: string
  source: string | null
  eventId: string | null
  /** RWX's HTTP status of an attempt (`200`, `503`, `error`). */
  status: string | null
  /** RWX's version (written or read back), or the source version for a reconcile. */
  version: string | null
  error: string | null
}

/** What a secret's page shows. */
export interface SecretHistory {
  entry: InventoryEntry
  name: NameState | null
  /** Newest first. */
  timeline: TimelineItem[]
  /** Whether a reconciling source declares the name (then it can be resynced). */
  declared: DeclaredSecret | undefined
}

const str = (v: number | null) => (v === null ? null : String(v))

/** The history of one vault and name, or null when neither the store nor a reconciling source knows it. */
export async function secretHistory(
  store: Store,
  declared: readonly DeclaredSecret[],
  vault: string,
  name: string,
  now: number,
): Promise<SecretHistory | null> {
  const mine = declared.find((d) => d.vault === vault && d.name === name)
  const [facts, state] = await Promise.all([
    store.inventory({ vault, name, limit: 1 }),
    store.getName(vault, name, now),
  ])
  const entry = buildInventory(
    facts.filter((f) => f.vault === vault && f.name === name),
    mine === undefined ? [] : [mine],
  )[0]
  if (entry === undefined) return null

  // The events to look in: the newest of the name's source, plus its latest and last delivered ones.
  const listed = await store.listEvents({ limit: HISTORY_SCAN, source: entry.source ?? undefined })
  const refs = new Map<string, [string, string]>()
  const add = (source: string, eventId: string) => refs.set(`${source}\u0000${eventId}`, [source, eventId])
  for (const e of listed) add(e.source, e.eventId)
  if (entry.source !== null && entry.eventId !== null) add(entry.source, entry.eventId)
  const mark = state?.delivered
  if (mark?.source != null && mark.eventId !== null) add(mark.source, mark.eventId)
  const events = await Promise.all([...refs.values()].map(([s, id]) => store.getEvent(s, id)))

  const timeline: TimelineItem[] = []
  for (const event of events) {
    const secrets = (event?.secrets ?? []).filter((s) => s.vault === vault && s.name === name)
    if (event === null || secrets.length === 0) continue
    const p = await store.getProvenance(event.source, event.eventId)
    for (const s of secrets) {
      timeline.push(item(event.receivedAt, 'event', s.status, event.source, event.eventId))
      for (const a of p?.attempts[s.id] ?? [])
        timeline.push({
          ...item(a.at, 'attempt', a.outcome, event.source, event.eventId),
          status: a.status,
          version: str(a.version),
          error: a.error,
        })
    }
  }
  const looked = entry.lastReconcile
  if (looked?.at != null)
    timeline.push({
      ...item(looked.at, 'reconcile', looked.outcome ?? 'looked', entry.source, null),
      version: entry.sourceVersion,
      error: looked.error,
    })
  timeline.sort((a, b) => b.at - a.at || order(a) - order(b))
  return { entry, name: state, timeline, declared: mine }
}

function item(
  at: number,
  kind: TimelineItem['kind'],
  what: string | SecretStatus,
  source: string | null,
  eventId: string | null,
): TimelineItem {
  return { at, kind, what, source, eventId, status: null, version: null, error: null }
}

/** At the same instant, the later step first (newest first): reconcile, attempt, then event. */
const order = (i: TimelineItem) => (i.kind === 'reconcile' ? 0 : i.kind === 'attempt' ? 1 : 2)
