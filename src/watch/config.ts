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
  /** A kubeconfig file; default KUBECONFIG, else the pod's in-cluster service account. */
  kubeconfig: nonEmpty.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  retry: z
    .strictObject({
      baseMs: z.number().int().positive().default(500),
      maxMs: z.number().int().positive().default(60_000),
    })
    .default({ baseMs: 500, maxMs: 60_000 }),
  watches: z.array(watch).min(1, 'required: at least one'),
})

export type WatchConfig = z.infer<typeof watchConfigSchema>
export type WatchSpec = WatchConfig['watches'][number]

/** Reads watch.yaml with `${VAR}` expansion; `LOG_LEVEL` overrides it, `KUBECONFIG` is the default `kubeconfig`. Throws ConfigError. */
export function loadWatchConfig(path: string, env: Env): WatchConfig {
  const problems: string[] = []
  const doc = readYamlConfig(readConfigFile(path), env, path, problems)
  if (env.LOG_LEVEL) doc.logLevel = env.LOG_LEVEL
  if (env.KUBECONFIG && doc.kubeconfig === undefined) doc.kubeconfig = env.KUBECONFIG
  const parsed = watchConfigSchema.safeParse(doc)
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, doc))
  if (problems.length > 0 || !parsed.success) throw new ConfigError(path, problems)
  return parsed.data
}
