// The relay's secret signals (dead, drift, outside-change) told as notifications.
import type { SecretSignal } from '../delivery/types.js'
import type { Notifier } from './types.js'

/**
 * A signal listener (for the relay's signal bus) that notifies: the signal's kind, where the secret is,
 * and its detail as the reason (scrubbed, never a value).
 */
export function notifyingListener(notifier: Notifier): (signal: SecretSignal) => void {
  return (signal) => {
    void notifier.notify(signal.kind, {
      vault: signal.vault,
      name: signal.name,
      source: signal.source ?? '',
      eventId: signal.eventId,
      reason: signal.detail,
      at: signal.at,
    })
  }
}
