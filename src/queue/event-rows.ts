// Event rows as both stores read them, and how they become the admin API's EventRecords.
import type { EventRecord, SecretStatus } from './store.js'

/** One `events` row. */
export interface EventRow {
  id: number
  source: string
  event_id: string
  event_time: number
  received_at: number
}

/** A count of one event's secrets in one status. */
export interface StatusCount {
  event: number
  status: SecretStatus
  n: number
}

/** Joins event rows with their per-status secret counts. */
export function toEventRecords(rows: readonly EventRow[], counts: readonly StatusCount[]): EventRecord[] {
  const byEvent = new Map<number, Partial<Record<SecretStatus, number>>>()
  for (const c of counts) {
    const forEvent = byEvent.get(c.event) ?? {}
    forEvent[c.status] = c.n
    byEvent.set(c.event, forEvent)
  }
  return rows.map((r) => ({
    source: r.source,
    eventId: r.event_id,
    eventTime: r.event_time,
    receivedAt: r.received_at,
    counts: byEvent.get(r.id) ?? {},
  }))
}
