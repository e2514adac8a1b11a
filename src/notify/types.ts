// What a notification says and the one call that sends it: shared by delivery's wiring and reconciliation.
import type { NotificationKind } from '../config/schema.js'

export type { NotificationKind } from '../config/schema.js'

/** What a notification tells of one secret: where it is and why, never its value. */
export interface NotificationInfo {
  vault: string
  name: string
  /** The source (its configured id) the secret came from. */
  source: string
  /** The event that brought the value, when there is one (reconciliation may have none). */
  eventId: string | null
  /** Why, in words (a dead secret's last error, the versions of a drift): scrubbed, never a value. */
  reason: string
  /** When it happened (epoch ms); default now. */
  at?: number
}

/**
 * Sends outbound notifications (`notify`): queues one in the store's outbox and returns; a sender posts
 * it, signed, retried until the receiver takes it or the tries run out. Kinds left out of
 * `notify.events` are dropped. Never rejects: a store failure is logged and counted.
 */
export interface Notifier {
  notify(kind: NotificationKind, info: NotificationInfo): Promise<void>
}

/** The `type` of each kind in the JSON body. */
export const NOTIFICATION_TYPES: Readonly<Record<NotificationKind, string>> = {
  dead: 'secret.dead',
  drift: 'secret.drift',
  'outside-change': 'secret.outside_change',
}

/** The JSON body of a notification: exactly these fields. */
export interface NotificationBody {
  type: string
  vault: string
  name: string
  source: string
  eventId: string | null
  reason: string
  /** ISO 8601. */
  at: string
}
