// Recording a delivery round's outcomes (and provenance) in the store, through a store outage, then
// counting and logging each secret's outcome.
import type { Logger } from 'pino'
import type { DeliveryConfig } from '../config/schema.js'
import { errorFields } from '../log.js'
import type { Attempt, Claimed, Outcome, Store } from '../queue/store.js'
import type { DeliveryEvents } from './types.js'

export interface SettleDeps {
  store: Store
  owner: string
  config: Pick<DeliveryConfig, 'leaseSeconds'>
  clock: () => number
  log: Logger
  events?: DeliveryEvents | undefined
}

/** Settles `outcomes` of the leased `items`, retrying while the leases are surely ours. */
export async function settleRound(
  deps: SettleDeps,
  items: Claimed[],
  outcomes: Outcome[],
  tried: Attempt[],
): Promise<void> {
  const { store, owner, config, clock, log } = deps
  // A store outage (PostgreSQL restarting) must not turn sent secrets into duplicates: keep trying
  // while the leases are surely ours; past that, the leases run out and the secrets are sent again
  // (at least once, never lost).
  const deadline = clock() + (config.leaseSeconds * 1000) / 2
  for (let wait = 200; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      await store.settle(owner, clock(), outcomes, tried)
      break
    } catch (err) {
      const last = clock() + wait > deadline
      log.error(
        { err: errorFields(err), secrets: outcomes.length },
        last
          ? 'could not record delivery outcomes; they are sent again'
          : 'could not record delivery outcomes; retrying',
      )
      if (last) return
      await new Promise((r) => setTimeout(r, wait))
    }
  }
  const byId = new Map(items.map((c) => [c.id, c]))
  for (const o of outcomes) {
    const c = byId.get(o.id)
    if (!c) continue
    deps.events?.onOutcome?.(o.kind, c.vault)
    logOutcome(log, c, o)
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
