// How a sweep reads a store: a few reads at once, at most so many a second, and a backoff when throttled.
import type { CurrentVersion } from '../delivery/values.js'

/** Spaces calls to one store API: at most `ratePerSecond`, shared by every sweep of this process. */
export interface Pace {
  /** Resolves when the next call may go (at once while under the rate). */
  slot(signal?: AbortSignal): Promise<void>
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

export function createPace(ratePerSecond: number, clock: () => number = Date.now): Pace {
  const gap = 1000 / ratePerSecond
  let next = 0
  return {
    async slot(signal) {
      const now = clock()
      const at = Math.max(now, next)
      next = at + gap
      await sleep(at - now, signal)
    },
  }
}

/** `fn` over `items`, `lanes` at a time, results in the order of `items`. */
export async function inLanes<T, R>(
  items: readonly T[],
  lanes: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i]!)
      }
    }),
  )
  return out
}

/** Tries of one read while the store throttles or fails for now, and the first wait between them. */
const READ_TRIES = 3
const READ_BACKOFF_MS = 250
/** Longest wait between tries: a longer one (credentials) is left to the next sweep. */
const READ_BACKOFF_MAX_MS = 5_000

/**
 * Reads a current version, paced; a `retry` answer (throttling, a network failure) is tried again after a
 * doubling wait (or the store's own `afterMs`, when short), READ_TRIES times in all.
 */
export async function readPaced(
  pace: Pace,
  read: () => Promise<CurrentVersion>,
  signal?: AbortSignal,
): Promise<CurrentVersion> {
  let result: CurrentVersion = { kind: 'retry', error: 'not read' }
  for (let i = 0; i < READ_TRIES && !signal?.aborted; i++) {
    await pace.slot(signal)
    result = await read()
    if (result.kind !== 'retry') return result
    const wait = result.afterMs ?? READ_BACKOFF_MS * 2 ** i
    if (wait > READ_BACKOFF_MAX_MS || i === READ_TRIES - 1) break
    await sleep(wait, signal)
  }
  return result
}
