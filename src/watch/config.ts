// watch.yaml, the notifier's configuration: which Secrets to watch, which keys, and the relay to tell.
import { z } from 'zod'
import { formatIssues } from '../config/format.js'
import { ConfigError, type Env, readConfigFile, readYamlConfig } from '../config/load.js'

const nonEmpty = z.string().min(1, 'must not be empty')

const regex = nonEmpty.refine((p) => {
  try {
    new RegExp(p)
    return true
  } catch {
    return false
  }
}, 'must be a valid regular expression')

/** A TCP port: a number, or the digits a `${VAR}` or the environment gives. */
const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be a whole number').transform(Number)])
  .pipe(z.number().int().min(0).max(65_535))

/** Where the kubelet mounts the pod's service account: token, ca.crt, namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

const watch = z.strictObject({
  /** The relay source the events go to: POST {relay.url}/hooks/{source}. */
  source: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must match ^[A-Za-z0-9_.-]+$'),
  namespaces: z.array(nonEmpty).min(1, 'required: at least one'),
  /** A Kubernetes label selector, e.g. `cnpg.io/cluster` or `app=db,tier!=test`. */
  labelSelector: nonEmpty.optional(),
  /** Only Secrets whose name matches (a regular expression). */
  namePattern: regex.optional(),
  /** The keys of `data` whose values are sent; a change to any other key sends nothing. */
  keys: z.array(nonEmpty).min(1, 'required: at least one'),
})

export const watchConfigSchema = z.strictObject({
  relay: z.strictObject({
    /** The relay's base URL, e.g. http://vault-relay.vault-relay.svc. */
    url: z.url(),
    /** The projected service-account token (audience: the relay's), re-read on every request. */
    tokenFile: nonEmpty,
    /** Where the relay publishes its encryption keys; default {url}/.well-known/jwks.json. */
    jwksUrl: z.url().optional(),
    /** Encrypt to this key of the JWKS; default the first. */
    kid: nonEmpty.optional(),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
  }),
  /** A kubeconfig file; default KUBECONFIG, else the pod's in-cluster service account (`inCluster`). */
  kubeconfig: nonEmpty.optional(),
  /** The API server and service account of the pod, used without a kubeconfig. */
  inCluster: z
    .strictObject({
      /** Default KUBERNETES_SERVICE_HOST, which the kubelet sets in every pod. */
      host: nonEmpty.optional(),
      /** Default KUBERNETES_SERVICE_PORT. */
      port: port.pipe(z.number().min(1)).optional(),
      /** Holds `token` (re-read every minute) and `ca.crt`. */
      serviceAccountDir: nonEmpty.default(SERVICE_ACCOUNT_DIR),
    })
    .default({ serviceAccountDir: SERVICE_ACCOUNT_DIR }),
  /** GET /healthz, /readyz and /metrics; port 0 serves none. */
  health: z
    .strictObject({
      host: nonEmpty.default('0.0.0.0'),
      port: port.default(8081),
    })
    .default({ host: '0.0.0.0', port: 8081 }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  retry: z
    .strictObject({
      baseMs: z.number().int().positive().default(500),
      maxMs: z.number().int().positive().default(60_000),
    })
    .default({ baseMs: 500, maxMs: 60_000 }),
  /**
   * Every this many seconds, every watched Secret is listed again and re-sent when its watched values
   * differ from the ones the relay last acknowledged (a change it refused, or one lost); 0 turns it off.
   */
  resyncSeconds: z.number().int().min(0).max(86_400).default(600),
  watches: z.array(watch).min(1, 'required: at least one'),
})

export type WatchConfig = z.infer<typeof watchConfigSchema>
export type WatchSpec = WatchConfig['watches'][number]

/**
 * Reads watch.yaml with `${VAR}` expansion; `LOG_LEVEL` overrides it, `KUBECONFIG` is the default
 * `kubeconfig`, `KUBERNETES_SERVICE_HOST` and `_PORT` the default `inCluster` host and port. Throws ConfigError.
 */
export function loadWatchConfig(path: string, env: Env): WatchConfig {
  const problems: string[] = []
  const doc = readYamlConfig(readConfigFile(path), env, path, problems)
  if (env.LOG_LEVEL) doc.logLevel = env.LOG_LEVEL
  if (env.KUBECONFIG && doc.kubeconfig === undefined) doc.kubeconfig = env.KUBECONFIG
  const given = doc.inCluster
  const fromEnv = env.KUBERNETES_SERVICE_HOST || env.KUBERNETES_SERVICE_PORT
  // Not a mapping: left as it is, for the schema to name.
  if (doc.kubeconfig === undefined && fromEnv && (given === undefined || typeof given === 'object')) {
    const inCluster = { ...(given as Record<string, unknown> | undefined) }
    inCluster.host ??= env.KUBERNETES_SERVICE_HOST || undefined
    inCluster.port ??= env.KUBERNETES_SERVICE_PORT || undefined
    doc.inCluster = inCluster
  }
  const parsed = watchConfigSchema.safeParse(doc)
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, doc))

  if (problems.length > 0 || !parsed.success) throw new ConfigError(path, problems)
  return parsed.data
}

/** Throws ConfigError when the config names no API server: no kubeconfig, and not in a pod. */
export function requireKubeApi(config: WatchConfig, path: string): void {
  if (config.kubeconfig !== undefined) return
  const missing = (['host', 'port'] as const).filter((key) => config.inCluster[key] === undefined)
  if (missing.length > 0)
    throw new ConfigError(
      path,
      missing.map(
        (key) =>
          `inCluster.${key}: required without a kubeconfig (set kubeconfig or KUBECONFIG, or run in a pod, where KUBERNETES_SERVICE_${key.toUpperCase()} is set)`,
      ),
    )
}
