// Prometheus metrics: one registry per app, labels only from config names and fixed reason codes.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { SECRET_STATUSES, type Store } from './queue/store.js'

export interface Metrics {
  registry: Registry
  /** Hook requests by source and answer status. */
  hooks: Counter<'source' | 'status'>
  /** Refusals by source and error code (never the secret or the input). */
  refusals: Counter<'source' | 'code'>
  secretsAccepted: Counter<'source'>
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
  /**
   * Outbound notifications (`notify`) by kind (dead, drift, outside-change) and outcome: `queued`, `sent`,
   * `retry` (an attempt failed; tried again later), `failed` (given up after `notify.maxAttempts`).
   */
  notifications: Counter<'kind' | 'outcome'>
}

/** Prefix of the process and Node.js metrics (relay_process_cpu_seconds_total, relay_nodejs_heap_size_used_bytes...). */
export const DEFAULT_METRICS_PREFIX = 'relay_'

export function createMetrics(store: Store): Metrics {
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
    notifications: new Counter({
      name: 'relay_notifications_total',
      help: 'Outbound notifications (notify.url) by kind (dead, drift, outside-change) and outcome (queued, sent, retry, failed)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
  }
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
