// Recording a delivery round's outcomes (and provenance) in the store, through a store outage, then
// counting and logging each secret's outcome.
import type { Logger } from 'pino'
import type { DeliveryConfig } from '../config/schema.js'
import { errorFields } from '../log.js'
import type { Attempt, Claimed, Outcome, Store } from '../queue/store.js'
import { countedRetry } from './batch.js'
import type { DeliveryEvents } from './types.js'

export interface SettleDeps {
  store: Store
  owner: string
  config: Pick<
    DeliveryConfig,
    | 'leaseSeconds'
    | 'maxAttempts'
    | 'maxAgeSeconds'
    | 'backoffBaseMs'
    | 'backoffMaxMs'
    | 'keepDeadValuesSeconds'
  >
  clock: () => number
  log: Logger
  events?: DeliveryEvents | undefined
  /** Jitter source for the retry of an outcome the store refuses. Default Math.random. */
  random?: () => number
}

/** Settles `outcomes` of the leased `items`, retrying while the leases are surely ours. */
export async function settleRound(
  deps: SettleDeps,
  items: Claimed[],
  outcomes: Outcome[],
  tried: Attempt[],
): Promise<void> {
  const byId = new Map(items.map((c) => [c.id, c]))
  const keepSeconds = deps.config.keepDeadValuesSeconds
  // A dead secret's value is kept apart for a while (an admin retry can still deliver it).
  const kept =
    keepSeconds > 0
      ? outcomes.map((o) =>
          o.kind === 'dead' && byId.get(o.id)?.sealed != null
            ? { ...o, keepValueUntil: deps.clock() + keepSeconds * 1000 }
            : o,
        )
      : outcomes
  for (const o of await record(deps, byId, kept, tried)) {
    const c = byId.get(o.id)
    if (!c) continue
    deps.events?.onOutcome?.(o.kind, c.vault)
    if (o.kind === 'dead') {
      deps.events?.onSignal?.({
        kind: 'dead',
        vault: c.vault,
        name: c.name,
        source: c.source,
        eventId: c.eventId,
        at: deps.clock(),
        detail: o.error,
      })
    }
    logOutcome(deps.log, c, o)
  }
}

/**
 * Records `outcomes` and returns those recorded. A store outage (PostgreSQL restarting) must not turn sent
 * secrets into duplicates: keep trying while the leases are surely ours; past that, the leases run out and
 * the secrets are sent again (at least once, never lost). But one outcome the store refuses while it
 * answers must not hold back the others, nor be sent again on every lease without counting: the outcomes
 * are then recorded one at a time, and each refused one as a counted retry (so it ends dead).
 */
async function record(
  deps: SettleDeps,
  byId: Map<number, Claimed>,
  outcomes: Outcome[],
  tried: Attempt[],
): Promise<Outcome[]> {
  const { store, owner, config, clock, log } = deps
  const triedBy = new Map<number, Attempt[]>()
  for (const a of tried) triedBy.set(a.secretId, [...(triedBy.get(a.secretId) ?? []), a])
  const attemptsFor = (of: Outcome[]) => of.flatMap((o) => triedBy.get(o.id) ?? [])
  const recorded: Outcome[] = []
  let pending = outcomes
  const deadline = clock() + (config.leaseSeconds * 1000) / 2
  for (let wait = 200; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      await store.settle(owner, clock(), pending, attemptsFor(pending))
      return [...recorded, ...pending]
    } catch (err) {
      // One at a time only while the store answers: two refused in a row with none taken is an outage,
      // and trying every other outcome alone would wait out a timeout each, past the leases.
      const refused: Outcome[] = []
      let answering = pending.length > 1
      for (const o of pending) {
        if (!answering) {
          refused.push(o)
          continue
        }
        try {
          await store.settle(owner, clock(), [o], attemptsFor([o]))
          recorded.push(o)
        } catch {
          refused.push(o)
          if (recorded.length === 0 && refused.length >= 2) answering = false
        }
      }
      if (refused.length === 0) return recorded
      const last = clock() + wait > deadline
      // The store took the others, or it kept refusing these until the leases may be running out.
      if (recorded.length > 0 || last) {
        for (const o of refused) {
          const retry = await recordRefused(deps, byId.get(o.id), o, err)
          if (retry) recorded.push(retry)
        }
        return recorded
      }
      pending = refused
      log.error(
        { err: errorFields(err), secrets: pending.length },
        'could not record delivery outcomes; retrying',
      )
      await new Promise((r) => setTimeout(r, wait))
    }
  }
}

/** Records an outcome the store refused as a counted retry; undefined when that fails too. */
async function recordRefused(
  deps: SettleDeps,
  item: Claimed | undefined,
  o: Outcome,
  cause: unknown,
): Promise<Outcome | undefined> {
  const { store, owner, clock, log } = deps
  log.error(
    { err: errorFields(cause), secret: o.id, outcome: o.kind },
    'the store refused a delivery outcome',
  )
  if (item === undefined) return undefined
  const error = 'could not record the outcome of the delivery (internal error)'
  const retry = countedRetry(
    { config: deps.config, random: deps.random ?? Math.random },
    item,
    clock(),
    error,
  )
  try {
    await store.settle(owner, clock(), [retry], [])
    return retry
  } catch (err) {
    log.error(
      { err: errorFields(err), secret: o.id },
      'could not record delivery outcomes; they are sent again',
    )
    return undefined
  }
}

function logOutcome(log: Logger, c: Claimed, o: Outcome): void {
  const fields = {
    vault: c.vault,
    name: c.name,
    source: c.source,
    event: c.eventId,
    attempt: c.attempts + 1,
  }
  if (o.kind === 'delivered') {
    log.info({ ...fields, outcome: o.kind, version: o.version }, 'secret delivered to RWX')
  } else if (o.kind === 'retry') {
    const at = new Date(o.at).toISOString()
    // The failed request was logged once at warn; per secret this is detail.
    log.debug(
      { ...fields, outcome: o.kind, at, counted: o.countAttempt, error: o.error },
      'secret will be retried',
    )
  } else {
    log.warn({ ...fields, outcome: o.kind, error: o.error }, `secret ${o.kind}`)
  }
}
