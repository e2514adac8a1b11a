// Prometheus metrics: one registry per app, labels only from config names and fixed reason codes.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { SECRET_STATUSES, type Store } from './queue/store.js'
import { INVENTORY_STATES, type InventoryState } from './reconcile/types.js'

export interface Metrics {
  registry: Registry
  /** Hook requests by source and answer status. */
  hooks: Counter<'source' | 'status'>
  /** Refusals by source and error code (never the secret or the input). */
  refusals: Counter<'source' | 'code'>
  secretsAccepted: Counter<'source'>
  /**
   * Provider notices (a reminder, an expiry warning): counted and logged, nothing written; kind is a
   * rule's `notice` or a verifier's configured notice type (bounded by config).
   */
  notices: Counter<'source' | 'kind'>
  /** Delivery outcomes per secret. */
  outcomes: Counter<'outcome'>
  /** RWX requests by answer kind. */
  rwxRequests: Counter<'result'>
  rwxLatency: Histogram<'result'>
  rwxAuthFailing: Gauge
  /** Vaults RWX answers 404 for (their secrets wait queued); no vault label: names may be templated. */
  rwxMissingVaults: Gauge
  /** 1 while delivery is paused (the global switch). */
  paused: Gauge
  /** Times the delivery worker looked for work and held back, by reason (paused, breaker). */
  holds: Counter<'reason'>
  /** 1 while the RWX circuit breaker is open. */
  rwxBreakerOpen: Gauge
  /** Read-backs that found RWX holding an older version than written, or none. */
  outsideChanges: Counter<'change'>
  /** Finished events deleted by retention (their secrets went with them). */
  purgedEvents: Counter
  /** Webhooks answered 503 by load shedding, by reason (eventLoopDelay, heapUsedBytes, rssBytes...). */
  shed: Counter<'reason'>
  /**
   * Webhooks refused before a source read them: rate_limited (429) or unknown_source (404), by a
   * configured source id or `unknown` (never the name a caller made up).
   */
  refusedRequests: Counter<'source' | 'reason'>
  /** Reconciliation sweeps by source and outcome (ok, failed). */
  reconcileSweeps: Counter<'source' | 'outcome'>
  /**
   * Outbound notifications (`notify`) by kind (dead, drift, outside-change) and outcome: `queued`, `sent`,
   * `retry` (an attempt failed; tried again later), `failed` (given up after `notify.maxAttempts`).
   */
  notifications: Counter<'kind' | 'outcome'>
}

/** The inventory in numbers, for the gauges (src/relay.ts reads it from the reconcile module). */
export interface InventorySummary {
  /** Names by state (in-sync, pending, failing, dead, drift, unknown). */
  byState: ReadonlyMap<InventoryState, number>
}

/** How long one inventory read serves scrapes: it reads every name, and several gauges share it. */
const INVENTORY_CACHE_MS = 5_000

/** Prefix of the process and Node.js metrics (relay_process_cpu_seconds_total, relay_nodejs_heap_size_used_bytes...). */
export const DEFAULT_METRICS_PREFIX = 'relay_'

export function createMetrics(
  store: Store,
  options: { inventory?: () => Promise<InventorySummary> } = {},
): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: DEFAULT_METRICS_PREFIX })
  const m: Metrics = {
    registry,
    hooks: new Counter({
      name: 'relay_hook_requests_total',
      help: 'Webhook requests by source and status',
      labelNames: ['source', 'status'],
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'relay_hook_refusals_total',
      help: 'Refused webhook requests by source and reason code',
      labelNames: ['source', 'code'],
      registers: [registry],
    }),
    secretsAccepted: new Counter({
      name: 'relay_secrets_accepted_total',
      help: 'Secrets durably queued',
      labelNames: ['source'],
      registers: [registry],
    }),
    notices: new Counter({
      name: 'relay_provider_notices_total',
      help: 'Provider notices received (counted and logged, nothing written), by source and kind',
      labelNames: ['source', 'kind'],
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'relay_delivery_outcomes_total',
      help: 'Delivery outcomes per secret (delivered, retry, dead, superseded)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    rwxRequests: new Counter({
      name: 'relay_rwx_requests_total',
      help: 'Requests to the RWX API by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    rwxLatency: new Histogram({
      name: 'relay_rwx_request_seconds',
      help: 'RWX API request latency',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rwxAuthFailing: new Gauge({
      name: 'relay_rwx_auth_failing',
      help: '1 while RWX refuses the token (401/403)',
      registers: [registry],
    }),
    rwxMissingVaults: new Gauge({
      name: 'relay_rwx_missing_vaults',
      help: 'Vaults RWX answers 404 for (not created yet?): their secrets stay queued; names in /readyz',
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'relay_paused',
      help: '1 while delivery to RWX is paused (POST /admin/pause); ingest goes on',
      registers: [registry],
    }),
    holds: new Counter({
      name: 'relay_delivery_holds_total',
      help: 'Times the delivery worker looked for work and held back: paused, breaker (waiting for a probe), or rate-limited (a 429)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    rwxBreakerOpen: new Gauge({
      name: 'relay_rwx_breaker_open',
      help: '1 while the RWX circuit breaker is open (one probe at a time)',
      registers: [registry],
    }),
    outsideChanges: new Counter({
      name: 'relay_rwx_outside_changes_total',
      help: 'Read-backs (delivery.verify) finding RWX with an older version than written, or none',
      labelNames: ['change'],
      registers: [registry],
    }),
    purgedEvents: new Counter({
      name: 'relay_purged_events_total',
      help: 'Finished events deleted with their secrets after retention.days',
      registers: [registry],
    }),
    shed: new Counter({
      name: 'relay_load_shed_total',
      help: 'Webhook requests answered 503 by load shedding, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    refusedRequests: new Counter({
      name: 'relay_refused_requests_total',
      help: 'Webhooks refused before a source read them, by source (a configured id, or unknown) and reason (rate_limited, unknown_source)',
      labelNames: ['source', 'reason'],
      registers: [registry],
    }),
    reconcileSweeps: new Counter({
      name: 'relay_reconcile_sweeps_total',
      help: 'Reconciliation sweeps by source and outcome (ok, failed: a store read failed)',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'relay_notifications_total',
      help: 'Outbound notifications (notify.url) by kind (dead, drift, outside-change) and outcome (queued, sent, retry, failed)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
  }
  registerInventoryGauges(registry, store, options)
  new Gauge({
    name: 'relay_queue_secrets',
    help: 'Secrets in the store by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      try {
        const counts = await store.counts()
        for (const s of SECRET_STATUSES) this.set({ status: s }, counts[s])
      } catch {
        // The store is down: /readyz says so; the scrape still answers with the other metrics.
      }
    },
  })
  return m
}

/**
 * The inventory's gauges (names by state, oldest pending age, drift) from one read shared by a scrape,
 * and the last successful sweep per source (from the store: every replica reports the same).
 */
function registerInventoryGauges(
  registry: Registry,
  store: Store,
  options: { inventory?: () => Promise<InventorySummary> },
): void {
  let cached: { at: number; summary: Promise<InventorySummary | null> } | undefined
  const summary = (): Promise<InventorySummary | null> => {
    const read = options.inventory
    if (read === undefined) return Promise.resolve(null)
    const now = Date.now()
    if (cached === undefined || now - cached.at > INVENTORY_CACHE_MS) {
      // The store is down: /readyz says so; the scrape still answers with the other metrics.
      cached = { at: now, summary: read().catch(() => null) }
    }
    return cached.summary
  }
  new Gauge({
    name: 'relay_inventory_secrets',
    help: 'Vault secrets the relay writes, by state (in-sync, pending, failing, dead, drift, unknown)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await summary()
      if (s === null) return
      // every state, 0 when none
      for (const state of INVENTORY_STATES) this.set({ state }, s.byState.get(state) ?? 0)
    },
  })
  new Gauge({
    name: 'relay_oldest_pending_seconds',
    help: 'Age of the oldest value waiting for delivery (0 when none waits)',
    registers: [registry],
    async collect() {
      // the store's own index, not the inventory (which stops at its first 10,000 names)
      const oldest = await store.oldestQueuedAt().catch(() => undefined)
      if (oldest !== undefined) this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000))
    },
  })
  new Gauge({
    name: 'relay_drift_secrets',
    help: 'Vault secrets whose RWX version differs from the one the relay wrote (drift)',
    registers: [registry],
    async collect() {
      const s = await summary()
      if (s !== null) this.set(s.byState.get('drift') ?? 0)
    },
  })
  new Gauge({
    name: 'relay_reconcile_last_success_timestamp_seconds',
    help: 'When the last reconciliation sweep of a source succeeded (epoch seconds), by any replica',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      try {
        for (const sweep of await store.sweeps())
          if (sweep.lastOkAt !== null) this.set({ source: sweep.source }, sweep.lastOkAt / 1000)
      } catch {
        // as above: the store is down
      }
    },
  })
}
