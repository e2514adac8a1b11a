// A delivery round's leases: renewed while the round works, marked before each request goes out, and the
// round's requests cancelled before a lease the worker could not renew runs out.
import type { Logger } from 'pino'
import { errorFields } from '../log.js'
import type { Claimed, Store } from '../queue/store.js'

export interface HeartbeatDeps {
  store: Store
  owner: string
  clock: () => number
  log: Logger
  /** How long a claim or a renewal holds a lease (`delivery.leaseSeconds`). */
  leaseMs: number
}

/** The leases of one round, from its claim until its outcomes are recorded. */
export interface RoundLeases {
  /** Aborted with the worker's signal, or when the round's leases may run out: its requests stop. */
  readonly signal: AbortSignal
  /** True once the round gave its requests up (a lease lost or not renewed in time). */
  readonly lost: boolean
  /**
   * Marks `items` as being sent (their requests are about to go out) and renews them; resolves to the
   * items whose lease the worker still holds, none once the round is lost. Rejects when the store fails:
   * then nothing may be sent.
   */
  sending(items: Claimed[]): Promise<Claimed[]>
  /** Ends the heartbeat, before the round's outcomes are recorded (which gives the leases back). */
  stop(): void
}

/**
 * Starts renewing the leases of `items`, claimed at `claimedAt`, every third of a lease, one statement
 * a beat (none while the previous one is still waiting). When a renewal fails (the store is unreachable)
 * and the next beat would come after the leases end, or a lease turns out taken, the round's requests
 * are cancelled: a worker never has a request in flight under a lease another replica may take over. A
 * cancelled request's outcome is unknown, so its name is fenced (by this worker's settle, or by the
 * claim that takes the marked lease over).
 */
export function startHeartbeat(
  deps: HeartbeatDeps,
  items: Claimed[],
  claimedAt: number,
  parent: AbortSignal,
): RoundLeases {
  const { store, owner, clock, log, leaseMs } = deps
  const beatMs = Math.max(1, Math.floor(leaseMs / 3))
  const live = new Map(items.map((c) => [c.id, c]))
  const controller = new AbortController()
  const signal = AbortSignal.any([parent, controller.signal])
  let heldUntil = claimedAt + leaseMs
  let renewing = false
  let lost = false
  let stopped = false

  function giveUp(why: string, fields: Record<string, unknown> = {}): void {
    if (lost) return
    lost = true
    log.warn(
      { ...fields, secrets: live.size },
      `${why}: cancelling this round's requests to RWX before another replica may take the leases over (their names are fenced)`,
    )
    controller.abort('the lease could not be renewed')
  }

  function dropLost(held: Set<number>, asked: Iterable<Claimed>): number {
    let dropped = 0
    for (const c of asked) {
      if (held.has(c.id)) continue
      live.delete(c.id)
      dropped++
    }
    return dropped
  }

  function beat(): void {
    const now = clock()
    if (now + beatMs >= heldUntil) giveUp('the delivery leases could not be renewed in time')
    if (renewing || lost || live.size === 0) return
    renewing = true
    const asked = [...live.values()]
    store
      .renew({ owner, now, leaseMs, items: asked })
      .then(
        (held) => {
          // settled meanwhile: the leases given back are not lost
          if (stopped) return
          heldUntil = now + leaseMs
          const dropped = dropLost(held, asked)
          if (dropped > 0) giveUp('another worker holds leases of this round', { taken: dropped })
        },
        (err: unknown) => {
          log.warn({ err: errorFields(err) }, 'renewing the delivery leases failed; trying again')
        },
      )
      .finally(() => {
        renewing = false
      })
  }

  const timer = setInterval(beat, beatMs)
  return {
    signal,
    get lost() {
      return lost
    },
    async sending(batch) {
      if (lost || signal.aborted) return []
      const held = await store.renew({ owner, now: clock(), leaseMs, items: batch, sending: true })
      dropLost(held, batch)
      return lost ? [] : batch.filter((c) => held.has(c.id))
    },
    stop() {
      stopped = true
      clearInterval(timer)
    },
  }
}
