// What delivery reports, told as notifications: a dead secret, and an outside change found by reading back.
import type { DeliveryEvents } from '../delivery/types.js'
import type { Notifier } from './types.js'

/**
 * The delivery worker's hooks that notify: `onDead` sends `dead` (its last error as the reason),
 * `onOutsideChange` sends `outside-change` (the versions read, never a value). `also` runs first (the
 * metrics the relay counts on the same hooks).
 */
export function notifyingEvents(
  notifier: Notifier | undefined,
  also: Pick<DeliveryEvents, 'onOutsideChange' | 'onDead'> = {},
): Pick<DeliveryEvents, 'onOutsideChange' | 'onDead'> {
  return {
    onDead(item, reason) {
      also.onDead?.(item, reason)
      void notifier?.notify('dead', {
        vault: item.vault,
        name: item.name,
        source: item.source,
        eventId: item.eventId,
        reason,
      })
    },
    onOutsideChange(kind, change) {
      also.onOutsideChange?.(kind, change)
      if (change === undefined) return
      void notifier?.notify('outside-change', {
        vault: change.vault,
        name: change.name,
        source: change.item?.source ?? '',
        eventId: change.item?.eventId ?? null,
        reason:
          kind === 'missing'
            ? `RWX no longer holds the secret (404) after the relay wrote version ${change.written ?? '?'}`
            : `RWX holds version ${change.readBack ?? '?'}, older than version ${change.written ?? '?'} the relay wrote`,
      })
    },
  }
}
