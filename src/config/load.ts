// Reads relay.yaml once: YAML, ${VAR} expansion, environment overrides, the schema, and the checks given to it.
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { exampleConfigPath } from './demo.js'
import { type ExpandProblem, expandEnv } from './expand.js'
import { formatIssues } from './format.js'
import { type Config, configSchema, KEY_LIST_FIELDS, type SourceConfig, sourceSchema } from './schema.js'

export type Env = Readonly<Record<string, string | undefined>>

/**
 * The checks that need the app's own modules (the key's format, each source's rules and verifier). The
 * layer above passes them in, so config/ imports nothing of the app; they run here, in place, so every
 * problem keeps its place in the list.
 */
export interface ConfigChecks {
  /** Why a non-empty `encryptionKey` cannot be used, or undefined when it can. */
  encryptionKey?(key: string): string | undefined
  /** The problems of one source that passed its schema, with paths relative to the source. */
  source?(source: SourceConfig): readonly { path: string; message: string }[]
}

/** A config that cannot be used; `problems` lists every bad path, one line each. */
export class ConfigError extends Error {
  readonly problems: string[]
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/**
 * `RELAY_CONFIG`, else `./relay.yaml`; only with `demo` (an explicit opt-in) does a missing
 * `./relay.yaml` fall back to the shipped example.
 */
export function resolveConfigPath(env: Env, cwd: string, options: { demo?: boolean } = {}): string {
  if (env.RELAY_CONFIG) return resolve(cwd, env.RELAY_CONFIG)
  const own = resolve(cwd, 'relay.yaml')
  return existsSync(own) || !options.demo ? own : exampleConfigPath(cwd)
}

/** Applies the environment variables that override the file (each wins where both exist). */
function applyOverrides(doc: Record<string, unknown>, env: Env, problems: string[]): void {
  const section = (key: string): Record<string, unknown> => {
    const v = doc[key]
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
    const fresh: Record<string, unknown> = {}
    doc[key] = fresh
    return fresh
  }
  if (env.RWX_API_URL) section('rwx').url = env.RWX_API_URL
  if (env.RWX_ACCESS_TOKEN) section('rwx').token = env.RWX_ACCESS_TOKEN
  if (env.RELAY_STORE) doc.store = env.RELAY_STORE
  if (env.RELAY_ENCRYPTION_KEY) doc.encryptionKey = env.RELAY_ENCRYPTION_KEY
  if (env.RELAY_ADMIN_TOKEN) section('admin').token = env.RELAY_ADMIN_TOKEN
  if (env.LOG_LEVEL) doc.logLevel = env.LOG_LEVEL
  if (env.HOST) section('server').host = env.HOST
  // The usual proxy variables, upper or lower case, as curl and undici read them.
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy
  const httpProxy = env.HTTP_PROXY || env.http_proxy
  const noProxy = env.NO_PROXY || env.no_proxy
  if (httpsProxy) section('proxy').httpsProxy = httpsProxy
  if (httpProxy) section('proxy').httpProxy = httpProxy
  if (noProxy) section('proxy').noProxy = noProxy
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT)
    if (Number.isInteger(port)) section('server').port = port
    else problems.push('PORT: must be a whole number')
  }
}

/** Checks what the schema alone cannot (store URL, key format), on the raw document so a schema error elsewhere does not hide them. */
function checkTopLevel(doc: Record<string, unknown>, problems: string[], checks: ConfigChecks): void {
  const store = typeof doc.store === 'string' ? doc.store : 'sqlite:'
  const isPostgres = /^postgres(ql)?:\/\//.test(store)
  if (!isPostgres && !store.startsWith('sqlite:')) {
    problems.push('store: must be sqlite:<path> or postgres://user:password@host/db')
  }
  const key = typeof doc.encryptionKey === 'string' ? doc.encryptionKey : ''
  if (key !== '') {
    const bad = checks.encryptionKey?.(key)
    if (bad !== undefined) problems.push(`encryptionKey: ${bad}`)
  } else if (isPostgres) {
    problems.push('encryptionKey: required with a PostgreSQL store')
  }
  const rwx = (doc.rwx ?? {}) as { token?: unknown; tokenFile?: unknown }
  if (rwx.token && rwx.tokenFile !== undefined) problems.push('rwx: set token or tokenFile, not both')
}

/** Runs `checks.source` on each source that parses on its own. */
function checkSources(doc: Record<string, unknown>, problems: string[], checks: ConfigChecks): void {
  if (!Array.isArray(doc.sources) || checks.source === undefined) return
  for (const [i, raw] of doc.sources.entries()) {
    const parsed = sourceSchema.safeParse(raw)
    if (!parsed.success) continue
    for (const p of checks.source(parsed.data)) problems.push(`sources[${i}].${p.path}: ${p.message}`)
  }
}

/** A verifier's list of secrets or keys: `"${OLD:-}"` in it is an optional entry (one secret while not rolling). */
const isKeyList = (path: string) => {
  const field = /^sources\[\d+\]\.verify\.([A-Za-z]+)$/.exec(path)?.[1]
  return field !== undefined && KEY_LIST_FIELDS.has(field)
}

/**
 * Reads YAML config text into a mapping with every `${VAR}` expanded, adding a line to `problems` per
 * unset variable (an entry of a verifier's key list that expanded to empty is dropped); throws
 * ConfigError for text that is not a YAML mapping.
 */
export function readYamlConfig(
  text: string,
  env: Env,
  file: string,
  problems: string[],
): Record<string, unknown> {
  const yaml = parseDocument(text)
  if (yaml.errors.length > 0) {
    throw new ConfigError(
      file,
      yaml.errors.map(
        (e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.code.toLowerCase().replaceAll('_', ' ')}`,
      ),
    )
  }
  const raw = yaml.toJS() ?? {}
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(root): must be a mapping'])
  }
  const expandProblems: ExpandProblem[] = []
  const doc = expandEnv(raw, env, expandProblems, '', { dropEmptyIn: isKeyList }) as Record<string, unknown>
  for (const p of expandProblems) problems.push(`${p.path}: ${p.message}`)
  return doc
}

/** Reads the file at `path` as text; a missing or unreadable file is a ConfigError. */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(path, [code === 'ENOENT' ? '(file): not found' : `(file): cannot read (${code})`])
  }
}

/**
 * Parses config text (YAML) from `file` with `env`, running `checks` where they belong; throws
 * ConfigError listing every problem. The relay's own parse, with every check, is src/load-config.ts.
 */
export function parseConfigText(text: string, env: Env, file: string, checks: ConfigChecks): Config {
  const problems: string[] = []
  const doc = readYamlConfig(text, env, file, problems)
  applyOverrides(doc, env, problems)
  const parsed = configSchema.safeParse(doc)
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, doc))
  checkTopLevel(doc, problems, checks)
  checkSources(doc, problems, checks)
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems)
  return parsed.data
}
