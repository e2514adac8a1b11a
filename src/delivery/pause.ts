// The global pause switch as a process sees it: stored in the queue store (shared by every replica), read
// at most once per `maxAgeMs`, so a pause set on one replica stops the others within that bound.
import type { ControlState, Store } from '../queue/store.js'

export interface PauseSwitch {
  /** The stored state, re-read when the last read is older than `maxAgeMs`; the last known on a store error. */
  current(): Promise<ControlState>
  /** The last state read or set, without waiting (metrics, /readyz). */
  known(): ControlState
  /** Stores the switch; this process sees it at once. */
  set(paused: boolean, reason: string | null): Promise<ControlState>
}

export interface PauseSwitchOptions {
  store: Pick<Store, 'getControl' | 'setPaused'>
  clock: () => number
  /** Longest a stored change goes unseen. Default 1000. */
  maxAgeMs?: number
}

export const UNPAUSED: ControlState = { paused: false, changedAt: null, reason: null }

export function createPauseSwitch(options: PauseSwitchOptions): PauseSwitch {
  const maxAgeMs = options.maxAgeMs ?? 1000
  let state: ControlState = UNPAUSED
  let readAt = Number.NEGATIVE_INFINITY
  let reading: Promise<ControlState> | undefined

  function take(next: ControlState): ControlState {
    state = next
    readAt = options.clock()
    return next
  }

  return {
    current() {
      if (options.clock() - readAt < maxAgeMs) return Promise.resolve(state)
      // one read at a time however many callers ask
      reading ??= options.store
        .getControl()
        .then(take, () => state)
        .finally(() => {
          reading = undefined
        })
      return reading
    },
    known: () => state,
    async set(paused, reason) {
      return take(await options.store.setPaused(paused, options.clock(), reason))
    },
  }
}
