// The notifier's Prometheus metrics (relay_watch_*): labels only from watch.yaml names and fixed outcomes.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { SendOutcome } from './sender.js'

/** Prefix of every notifier metric, the process and Node.js ones included. */
export const WATCH_METRICS_PREFIX = 'relay_watch_'

export interface WatchMetrics {
  registry: Registry
  /** Changes of a watched value seen, by source. */
  changes: Counter<'source'>
  /** POSTs to the relay and changes never POSTed, by source and outcome (SendOutcome). */
  events: Counter<'source' | 'outcome'>
  /** Lists of a namespace's Secrets: at start, and each relist (410 Gone). */
  lists: Counter<'source' | 'namespace'>
  /** Watches that failed and were started again. */
  restarts: Counter<'source' | 'namespace'>
  /** When the relay last took (or already had) a change, in Unix seconds. */
  lastSent: Gauge
}

/** `pending` gives the changes the relay has not taken yet, read at each scrape. */
export function createWatchMetrics(pending: () => number): WatchMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: WATCH_METRICS_PREFIX })
  const registers = [registry]
  new Gauge({
    name: 'relay_watch_pending_changes',
    help: 'Changes the relay has not taken yet (at most one in flight and one waiting per Secret)',
    registers,
    collect() {
      this.set(pending())
    },
  })
  return {
    registry,
    changes: new Counter({
      name: 'relay_watch_changes_seen_total',
      help: 'Changes of a watched value seen, by source',
      labelNames: ['source'],
      registers,
    }),
    events: new Counter({
      name: 'relay_watch_events_total',
      help: 'Events by outcome: taken, duplicate, refused, retry (per failed POST), superseded, dropped',
      labelNames: ['source', 'outcome'],
      registers,
    }),
    lists: new Counter({
      name: 'relay_watch_lists_total',
      help: 'Lists of a namespace’s Secrets (at start and at each relist)',
      labelNames: ['source', 'namespace'],
      registers,
    }),
    restarts: new Counter({
      name: 'relay_watch_restarts_total',
      help: 'Watches that failed and were started again',
      labelNames: ['source', 'namespace'],
      registers,
    }),
    lastSent: new Gauge({
      name: 'relay_watch_last_send_success_timestamp_seconds',
      help: 'When the relay last took a change (or had it already), Unix seconds',
      registers,
    }),
  }
}

/** The sender's events, counted. */
export function senderEvents(m: WatchMetrics) {
  return {
    onOutcome: (source: string, outcome: SendOutcome) => m.events.inc({ source, outcome }),
    onTaken: (_source: string, at: number) => m.lastSent.set(at / 1000),
  }
}
