// `vault-relay watch --config watch.yaml`: the in-cluster notifier, from Secret changes to relay events.
import { parseArgs } from 'node:util'
import type { Logger } from 'pino'
import type { Env } from '../config/load.js'
import { createTokenSource } from '../config/token.js'
import { createLogger } from '../log.js'
import { closeOnSignalsAndErrors } from '../shutdown.js'
import { type ChangeTracker, createChangeTracker } from './changes.js'
import { loadWatchConfig, requireKubeApi, type WatchConfig, type WatchSpec } from './config.js'
import { startHealth } from './health.js'
import { createWatchMetrics, senderEvents, type WatchMetrics } from './metrics.js'
import { createRelayKeys } from './relay-keys.js'
import { createSender, type Sender } from './sender.js'
import { loadKubeConfig, startWatcher, type Watcher } from './watcher.js'

export interface RunningWatch {
  config: WatchConfig
  sender: Sender
  watcher: Watcher
  metrics: WatchMetrics
  /** Where /healthz, /readyz and /metrics are served; undefined when `health.port` is 0. */
  healthUrl: string | undefined
  log: Logger
  close(): Promise<void>
}

/** Starts the notifier from `args` (`--config FILE`, default ./watch.yaml). Throws ConfigError. */
export async function startWatch(args: string[], env: Env): Promise<RunningWatch> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' } },
    allowPositionals: false,
  })
  const path = values.config ?? 'watch.yaml'
  const config = loadWatchConfig(path, env)
  requireKubeApi(config, path)
  const base = createLogger(config.logLevel)
  const log = base.child({ component: 'watch' })
  const relayUrl = config.relay.url.replace(/\/+$/, '')
  const keys = createRelayKeys({
    jwksUrl: config.relay.jwksUrl ?? `${relayUrl}/.well-known/jwks.json`,
    kid: config.relay.kid,
    timeoutMs: config.relay.timeoutMs,
  })
  // The sender is made below; the gauge reads it at each scrape.
  const metrics = createWatchMetrics(() => sender.pending())
  const sender: Sender = createSender({
    relay: config.relay,
    retry: config.retry,
    token: createTokenSource({ tokenFile: config.relay.tokenFile }),
    keys,
    log,
    events: {
      ...senderEvents(metrics),
      // A uid names one Secret, and the tracker checks the event id: telling every tracker is exact.
      onAcknowledged: (_source, event) => {
        for (const tracker of trackers.values()) tracker.acknowledged(event.uid, event.id)
      },
    },
  })
  const trackers = new Map<WatchSpec, ChangeTracker>(config.watches.map((w) => [w, createChangeTracker(w)]))
  const watcher = startWatcher(config, {
    kubeConfig: loadKubeConfig(config),
    log,
    retry: config.retry,
    onList: (spec, namespace) => metrics.lists.inc({ source: spec.source, namespace }),
    onRestart: (spec, namespace) => metrics.restarts.inc({ source: spec.source, namespace }),
    onSecret(spec, secret) {
      const event = trackers.get(spec)!.seen(secret)
      const at = { source: spec.source, namespace: secret.metadata?.namespace, name: secret.metadata?.name }
      if (event === undefined) {
        log.trace({ ...at, resourceVersion: secret.metadata?.resourceVersion }, 'no watched value changed')
        return
      }
      metrics.changes.inc({ source: spec.source })
      log.info({ ...at, event: event.id }, 'watched value changed: sending')
      sender.send(spec.source, event)
    },
    onDelete(spec, secret) {
      trackers.get(spec)!.forget(secret)
      if (secret.metadata?.uid !== undefined) sender.forget(spec.source, secret.metadata.uid)
      log.info(
        { source: spec.source, namespace: secret.metadata?.namespace, name: secret.metadata?.name },
        'secret deleted',
      )
    },
  })
  // The periodic resync: a change the relay refused, or one lost, is sent again (values never logged).
  const resync =
    config.resyncSeconds > 0
      ? setInterval(() => {
          void watcher.relist((spec, secret) => {
            const event = trackers.get(spec)!.resync(secret)
            if (event === undefined) return
            log.info(
              { source: spec.source, namespace: event.namespace, name: event.name, event: event.id },
              'resync: the relay has not acknowledged these watched values: sending',
            )
            sender.send(spec.source, event)
          })
        }, config.resyncSeconds * 1000)
      : undefined
  resync?.unref()
  // Fetched now, so that /readyz turns ready even before the first change is sent.
  keys.ready().catch((err: Error) => log.warn({ reason: err.message }, 'relay keys not fetched yet'))
  let health: Awaited<ReturnType<typeof startHealth>>
  try {
    health = await startHealth(config.health, {
      log: base.child({ component: 'watch-health' }),
      metrics,
      synced: () => watcher.synced(),
      keysReady: () => keys.ready(),
    })
  } catch (err) {
    clearInterval(resync)
    sender.stop()
    await watcher.stop()
    throw err
  }
  log.info(
    {
      relay: relayUrl,
      health: health?.url ?? null,
      watches: config.watches.map((w) => ({ source: w.source, namespaces: w.namespaces })),
    },
    'vault-relay watch started',
  )
  return {
    config,
    sender,
    watcher,
    metrics,
    healthUrl: health?.url,
    log,
    async close() {
      clearInterval(resync)
      await health?.close()
      sender.stop()
      await watcher.stop()
      log.info({ unsent: sender.pending() }, 'stopped')
    },
  }
}

/**
 * The CLI command: runs until SIGTERM or SIGINT (exit 0), or an uncaught error (logged, exit 1), closing
 * with grace as `serve` does: a send in flight gets its timeout to finish.
 */
export async function watch(args: string[], env: Env): Promise<void> {
  const running = await startWatch(args, env)
  closeOnSignalsAndErrors(running, running.log, running.config.relay.timeoutMs + 5_000)
}
