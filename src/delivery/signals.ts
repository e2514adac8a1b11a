// The relay's secret signals (dead, drift, outside-change) fanned out to whoever listens: the hook
// notifications and alerts subscribe to in src/relay.ts. Never carries a value.
import type { SecretSignal } from './types.js'

/** One place signals are emitted to and subscribed from. */
export interface SignalBus {
  /** Tells every listener; a listener that throws is logged and never stops the others. */
  emit(signal: SecretSignal): void
  /** Adds a listener; returns what removes it. */
  subscribe(listener: (signal: SecretSignal) => void): () => void
}

export function createSignalBus(log?: { warn(obj: object, msg: string): void }): SignalBus {
  const listeners = new Set<(signal: SecretSignal) => void>()
  return {
    emit(signal) {
      for (const listener of listeners) {
        try {
          listener(signal)
        } catch (err) {
          log?.warn({ kind: signal.kind, err: (err as Error).message }, 'a secret signal listener failed')
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
