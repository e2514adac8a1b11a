// Lists and watches Secrets with @kubernetes/client-node's ListWatch (the informer), one per watched
// namespace, restarted with backoff when the API server fails; relists after 410 Gone are its own.
import { isIPv6 } from 'node:net'
import { join } from 'node:path'
import { CoreV1Api, KubeConfig, ListWatch, type V1Secret, Watch } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { backoffMs } from '../delivery/backoff.js'
import type { WatchConfig, WatchSpec } from './config.js'
import { describeWatchFailure } from './failure.js'

/**
 * A Watch that asks for BOOKMARK events: the API server then tells a quiet watch how far it is, so a
 * reconnect resumes from a recent resourceVersion instead of one etcd compacted (410 and a full relist).
 */
class BookmarkWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly onListed: () => void,
  ) {
    super(config)
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // The informer watches only once it has listed and handed on every Secret (client-go's HasSynced).
    this.onListed()
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done)
  }
}

export interface WatcherDeps {
  kubeConfig: KubeConfig
  log: Logger
  retry: WatchConfig['retry']
  /** A Secret was added or updated (also once for each Secret at every list). */
  onSecret(spec: WatchSpec, secret: V1Secret): void
  onDelete(spec: WatchSpec, secret: V1Secret): void
  /** A namespace's Secrets were listed (at start, after 410 Gone, after a restart that lost its place). */
  onList?(spec: WatchSpec, namespace: string): void
  /** A watch failed and is started again. */
  onRestart?(spec: WatchSpec, namespace: string): void
}

export interface Watcher {
  /** Every watch has listed its Secrets and handed them on at least once. */
  synced(): boolean
  /**
   * Lists every watched namespace's Secrets again (apart from the watches) and hands each to `each`; a
   * namespace that cannot be listed is logged and skipped until the next resync.
   */
  relist(each: (spec: WatchSpec, secret: V1Secret) => void): Promise<void>
  stop(): Promise<void>
}

/**
 * The kubeconfig: the file given (or KUBECONFIG, resolved by the config), else the pod's service
 * account. The latter is what KubeConfig.loadFromCluster builds, from the parsed config instead of
 * process.env and a fixed directory; requireKubeApi has checked that host and port are there.
 */
export function loadKubeConfig(config: Pick<WatchConfig, 'kubeconfig' | 'inCluster'>): KubeConfig {
  const kc = new KubeConfig()
  if (config.kubeconfig !== undefined) {
    kc.loadFromFile(config.kubeconfig)
    return kc
  }
  const { host = '', port, serviceAccountDir: dir } = config.inCluster
  kc.loadFromClusterAndUser(
    {
      name: 'inCluster',
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: join(dir, 'ca.crt'),
      skipTLSVerify: false,
    },
    // client-node's file token source: re-read every minute, as the kubelet rotates it.
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: join(dir, 'token') } } },
  )
  return kc
}

export function startWatcher(config: WatchConfig, deps: WatcherDeps): Watcher {
  const api = deps.kubeConfig.makeApiClient(CoreV1Api)
  const informers: ListWatch<V1Secret>[] = []
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  let unsynced = 0

  for (const spec of config.watches) {
    for (const namespace of spec.namespaces) {
      const log = deps.log.child({ source: spec.source, namespace })
      let failures = 0
      const list = async () => {
        const result = await api.listNamespacedSecret({
          namespace,
          ...(spec.labelSelector === undefined ? {} : { labelSelector: spec.labelSelector }),
        })
        failures = 0
        deps.onList?.(spec, namespace)
        log.debug(
          { secrets: result.items.length, resourceVersion: result.metadata?.resourceVersion },
          'listed',
        )
        return result
      }
      let synced = false
      unsynced += 1
      const informer = new ListWatch<V1Secret>(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
        new BookmarkWatch(deps.kubeConfig, () => {
          if (synced) return
          synced = true
          unsynced -= 1
        }),
        list,
        false,
        spec.labelSelector,
      )
      informer.on('add', (s) => deps.onSecret(spec, s))
      informer.on('update', (s) => deps.onSecret(spec, s))
      informer.on('delete', (s) => deps.onDelete(spec, s))
      informer.on('connect', () =>
        log.debug({ resourceVersion: informer.latestResourceVersion() }, 'watching'),
      )
      // The informer stops on any error but 410: start it again (from its last resourceVersion).
      informer.on('error', (err) => {
        if (stopped) return
        failures += 1
        deps.onRestart?.(spec, namespace)
        const delayMs = Math.max(100, backoffMs(failures, deps.retry))
        const { status, code, ...cause } = describeWatchFailure(err)
        // status and code stay top-level fields (alerts match on them); the rest says why.
        log.warn({ status, code, err: cause, attempt: failures, delayMs }, 'watch failed: restarting')
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!stopped) void informer.start()
        }, delayMs)
        timers.add(timer)
      })
      informers.push(informer)
      void informer.start()
    }
  }
  return {
    synced: () => unsynced === 0,
    async relist(each) {
      for (const spec of config.watches) {
        for (const namespace of spec.namespaces) {
          if (stopped) return
          try {
            const result = await api.listNamespacedSecret({
              namespace,
              ...(spec.labelSelector === undefined ? {} : { labelSelector: spec.labelSelector }),
            })
            for (const secret of result.items) each(spec, secret)
          } catch (err) {
            const { status, code } = describeWatchFailure(err)
            deps.log.warn({ source: spec.source, namespace, status, code }, 'resync: listing failed')
          }
        }
      }
    },
    async stop() {
      stopped = true
      for (const t of timers) clearTimeout(t)
      await Promise.all(informers.map((i) => i.stop()))
    },
  }
}
