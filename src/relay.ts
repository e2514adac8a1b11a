// One relay: its config checked for start-up, then store, value stores, RWX client, worker, reconciler, notifier, retention, sources and apps, closed in order.
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildAdminApp, buildApp } from './app.js'
import { demoRefusal, demoSecretPaths, noConfig } from './config/demo.js'
import { type Env, readConfigFile, readYamlConfig, resolveConfigPath } from './config/load.js'
import { type Config, type ValueStoreKind, valueStoresUsed } from './config/schema.js'
import { createTokenSource, type TokenSource } from './config/token.js'
import { createPauseSwitch } from './delivery/pause.js'
import { createRwxClient } from './delivery/rwx-client.js'
import { createSignalBus } from './delivery/signals.js'
import { combineResolvers, type ReferenceResolver } from './delivery/values.js'
import type { VaultResolver } from './delivery/vault/resolver.js'
import { createDeliveryWorker } from './delivery/worker.js'
import { StartupError } from './errors.js'
import { createDispatcher, usesProxy } from './http/outbound.js'
import { parseConfig } from './load-config.js'
import { createLogger } from './log.js'
import { createMetrics } from './metrics.js'
import { notifyingListener } from './notify/events.js'
import { createNotifier } from './notify/notifier.js'
import { openStore } from './queue/open.js'
import { createRetentionJob } from './queue/retention.js'
import { buildSources } from './receive/sources.js'
import { readInventory } from './reconcile/inventory.js'
import { createReconciler } from './reconcile/reconciler.js'
import { summarize } from './reconcile/state.js'
import { declaresVaultKv, startVaultEventTrigger, type VaultEventTrigger } from './reconcile/vault-events.js'
import { USER_AGENT } from './version.js'

export interface RunningRelay {
  app: FastifyInstance
  config: Config
  log: Logger
  /** The address the relay listens on, e.g. http://127.0.0.1:8080. */
  url: string
  /** Where `/metrics` and `/admin` listen when `server.adminPort` is set, e.g. http://127.0.0.1:9090. */
  adminUrl?: string
  /** Stops taking requests, finishes in-flight deliveries, closes the store. Idempotent. */
  close(): Promise<void>
}

export interface StartOptions {
  /** `serve --demo`: accept the example's public DEMO-ONLY secrets, and fall back to the example config. */
  demo?: boolean
}

/** Where demo mode listens unless told otherwise: its signing secrets are public, so only this machine may send. */
export const DEMO_HOST = '127.0.0.1'

/**
 * Where a relay on the public DEMO-ONLY secrets listens, and why: an explicit `HOST` or `server.host` in
 * the config file is obeyed (the user chose to expose it), anything else is loopback only.
 */
function demoListenHost(
  text: string,
  path: string,
  env: Env,
  config: Config,
): { host: string; reason: string } {
  if (env.HOST) return { host: config.server.host, reason: 'HOST is set' }
  const server = readYamlConfig(text, env, path, []).server
  if (server !== null && typeof server === 'object' && 'host' in server) {
    return { host: config.server.host, reason: `server.host is set in ${path}` }
  }
  return { host: DEMO_HOST, reason: 'demo mode listens on loopback unless HOST or server.host is set' }
}

/** What a shutdown keeps of its grace period, after giving up on RWX, to settle, release leases and close. */
const SETTLE_MARGIN_MS = 1_000

/**
 * Starts a relay from `env` and `cwd`: finds and checks its config, makes the logger, wires it, listens,
 * and starts delivery. Throws StartupError (or ConfigError) when it cannot start.
 */
export async function startRelay(env: Env, cwd: string, options: StartOptions = {}): Promise<RunningRelay> {
  const path = resolveConfigPath(env, cwd, options)
  if (!existsSync(path)) throw new StartupError(noConfig(path))
  // Read once: demo mode looks at the same text again for an explicit server.host.
  const text = readConfigFile(path)
  const config = parseConfig(text, env, path)
  const token = createTokenSource(config.rwx)
  try {
    token()
  } catch (err) {
    throw new StartupError(`${(err as Error).message}`)
  }
  const demoPaths = demoSecretPaths(config)
  const demo = options.demo === true || config.allowDemoSecrets
  if (demoPaths.length > 0 && !demo) throw new StartupError(demoRefusal(demoPaths))
  const log = createLogger(config.logLevel)
  if (demoPaths.length > 0) {
    log.warn(
      { config: path, demoSecrets: demoPaths },
      'DEMO MODE: accepting events signed with the PUBLIC DEMO-ONLY secrets of the example config; anyone can forge events into your vaults. Set your own secrets before pointing a provider here.',
    )
  }
  let host = config.server.host
  if (demoPaths.length > 0) {
    const listen = demoListenHost(text, path, env, config)
    host = listen.host
    log.warn(
      { host, reason: listen.reason },
      host === DEMO_HOST
        ? `DEMO MODE: listening on ${host} only (loopback): set HOST or server.host to listen elsewhere`
        : `DEMO MODE: listening on ${host} because ${listen.reason}: anyone who can reach it can forge events`,
    )
  }
  const relay = await createRelay(config, { log, cwd, token })
  const url = await relay.app.listen({ host, port: config.server.port })
  let adminUrl: string | undefined
  try {
    adminUrl = await relay.adminApp?.listen({ host: config.server.adminHost, port: config.server.adminPort })
  } catch (err) {
    // The webhook port is already open: close everything rather than serve half a relay.
    await relay.close()
    throw new StartupError(
      `cannot listen on server.adminHost ${config.server.adminHost} port ${config.server.adminPort}: ${(err as Error).message}`,
    )
  }
  relay.start()
  log.info(
    {
      url,
      ...(adminUrl === undefined ? {} : { adminUrl }),
      store: relay.storeKind,
      sources: config.sources.map((s) => s.id),
      rwx: config.rwx.url,
      retentionDays: config.retention.days ?? null,
    },
    'vault-relay listening',
  )
  return {
    app: relay.app,
    config,
    log,
    url,
    ...(adminUrl === undefined ? {} : { adminUrl }),
    close: relay.close,
  }
}

/** A wired relay that does not listen yet. */
interface Relay {
  app: FastifyInstance
  /** `/metrics` and `/admin` apart, when `server.adminPort` is set. */
  adminApp: FastifyInstance | undefined
  storeKind: string
  /** Starts delivery, retention, sweeps, the Vault event trigger and notifications (after the app listens). */
  start(): void
  /** Closes everything in order, within `config.server.shutdownGraceSeconds`. Idempotent. */
  close(): Promise<void>
}

/** Opens the store and builds everything that uses it; each part is made here once and shared. */
async function createRelay(
  config: Config,
  deps: { log: Logger; cwd: string; token: TokenSource },
): Promise<Relay> {
  const { log } = deps
  const { store, sealer } = await openStore(config, log, deps.cwd)
  // The reconciler is made below; the inventory gauges read its declared names when scraped.
  const metrics = createMetrics(store, {
    inventory: async () => summarize(await readInventory(store, reconciler.declared)),
  })
  // Dead, drift and outside-change signals: notifications (when configured) subscribe here.
  const signals = createSignalBus(log)
  // The RWX client and the value stores' resolvers make their own proxy-aware dispatchers (with their timeouts);
  // with a proxy, one more that every verifier shares for JWKS, SNS and Kubernetes discovery.
  const proxyDispatcher = usesProxy(config.proxy) ? createDispatcher(config.proxy) : undefined
  const { resolver, stores } = await valueResolver(config, log)
  const client = createRwxClient({
    url: config.rwx.url,
    token: deps.token,
    userAgent: USER_AGENT,
    connectTimeoutMs: config.delivery.connectTimeoutMs,
    requestTimeoutMs: config.delivery.requestTimeoutMs,
    proxy: config.proxy,
  })
  const pause = createPauseSwitch({ store, clock: Date.now })
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  // Opt-in: without `notify` nothing is queued or sent.
  const notifier =
    config.notify === undefined
      ? undefined
      : createNotifier({
          store,
          config: config.notify,
          log: log.child({ component: 'notify' }),
          owner,
          proxy: config.proxy,
          counted: (kind, outcome) => metrics.notifications.inc({ kind, outcome }),
        })
  if (notifier !== undefined) signals.subscribe(notifyingListener(notifier))
  const worker = createDeliveryWorker({
    pause,
    store,
    client,
    sealer,
    resolver,
    config: config.delivery,
    log: log.child({ component: 'delivery' }),
    clock: Date.now,
    owner,
    events: {
      onSignal: signals.emit,
      onOutcome: (kind) => metrics.outcomes.inc({ outcome: kind }),
      onRequest: (result, _secrets, ms) => {
        metrics.rwxRequests.inc({ result })
        metrics.rwxLatency.observe({ result }, ms / 1000)
      },
      onHold: (reason) => metrics.holds.inc({ reason }),
      onOutsideChange: (change) => metrics.outsideChanges.inc({ change }),
    },
  })
  const reconciler = createReconciler({
    sources: config.sources,
    store,
    resolver,
    rwx: client,
    clock: Date.now,
    log: log.child({ component: 'reconcile' }),
    owner,
    events: {
      onSweep: (source, outcome) => metrics.reconcileSweeps.inc({ source, outcome }),
      onSignal: signals.emit,
    },
    onQueued: () => worker.notify(),
  })
  // Opt-in (Vault Enterprise): a KV write event resyncs the sources declaring that secret, started with the sweeps.
  const vaultStore = stores.get('vault')
  const vaultEvents =
    config.vault?.events.enabled === true &&
    vaultStore !== undefined &&
    'subscribeKvWrites' in vaultStore &&
    declaresVaultKv(reconciler, config.sources)
      ? (vaultStore as VaultResolver)
      : undefined
  let trigger: VaultEventTrigger | undefined
  // Purging is opt-in (unset keeps every event's metadata, as the relay always has); the kept values of
  // dead secrets are erased when their time runs out either way.
  const retention = createRetentionJob({
    store,
    days: config.retention.days,
    log: log.child({ component: 'retention' }),
    purged: metrics.purgedEvents,
  })
  const sources = buildSources(config.sources, {
    log: log.child({ component: 'verify' }),
    proxy: config.proxy,
    ...(proxyDispatcher ? { dispatcher: proxyDispatcher } : {}),
  })
  const appDeps = {
    store,
    sealer,
    sources,
    logger: log,
    metrics,
    delivery: worker,
    pause,
    reconcile: reconciler,
  }
  const app = await buildApp(config, appDeps)
  const adminApp = config.server.adminPort === undefined ? undefined : await buildAdminApp(config, appDeps)

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      const started = Date.now()
      log.info('shutting down: draining HTTP, finishing deliveries')
      // Webhooks first; the admin listener (metrics, /readyz saying shutting down) closes right after.
      await app.close()
      await adminApp?.close()
      // no purge or sweep starts while deliveries drain; one under way ends after its reads
      await retention.stop()
      await trigger?.close()
      await reconciler.stop()
      // Requests to RWX get what is left of the grace period, less a second to settle and release.
      const left = config.server.shutdownGraceSeconds * 1000 - (Date.now() - started) - SETTLE_MARGIN_MS
      await worker.stop({ abortAfterMs: left })
      // what is not sent yet stays in the outbox for the next start
      await notifier?.stop()
      await store.close()
      await client.close()
      await proxyDispatcher?.close()
      resolver?.close?.()
      for (const s of sources.values()) s.verifier.close?.()
      log.info('stopped')
    })()
    return closing
  }
  return {
    app,
    adminApp,
    storeKind: store.kind,
    start() {
      worker.start()
      retention.start()
      reconciler.start()
      if (vaultEvents !== undefined)
        trigger = startVaultEventTrigger({
          subscribe: (options) => vaultEvents.subscribeKvWrites(options),
          reconciler,
          sources: config.sources,
          log: log.child({ component: 'vault-events' }),
        })
      notifier?.start()
    },
    close,
  }
}

/**
 * Resolvers for the value stores the rules fetch from, each loaded only when used (the AWS SDK alone
 * costs ~16 MiB); none when every value comes from payloads.
 */
const VALUE_STORES: Readonly<
  Record<ValueStoreKind, (config: Config, log: Logger) => Promise<ReferenceResolver>>
> = {
  aws: async (config, log) =>
    (await import('./delivery/aws-secrets.js')).createAwsResolver({ log, proxy: config.proxy }),
  azure: async (config, log) =>
    (await import('./delivery/azure-secrets.js')).createAzureResolver({
      log,
      disableInstanceDiscovery: config.azure.disableInstanceDiscovery,
    }),
  vault: async (config, log) => {
    // The schema requires `vault:` whenever a rule fetches from Vault.
    if (config.vault === undefined)
      throw new StartupError('vault: is required for vaultKv and vaultDatabase values')
    const { createVaultResolver } = await import('./delivery/vault/resolver.js')
    return createVaultResolver({
      config: config.vault,
      proxy: config.proxy,
      log: log.child({ component: 'vault' }),
    })
  },
  gcp: async (config, log) =>
    (await import('./delivery/gcp-secrets.js')).createGcpResolver({ ...config.gcp, log }),
}

/** One resolver over the stores used (none when every value comes from payloads), and each store's own. */
async function valueResolver(
  config: Config,
  log: Logger,
): Promise<{
  resolver: ReferenceResolver | undefined
  stores: ReadonlyMap<ValueStoreKind, ReferenceResolver>
}> {
  const used = valueStoresUsed(config)
  const stores = new Map<ValueStoreKind, ReferenceResolver>()
  if (used.size === 0) return { resolver: undefined, stores }
  for (const kind of used) stores.set(kind, await VALUE_STORES[kind](config, log))
  return { resolver: combineResolvers(stores), stores }
}
