// A source's `reconcile.vaultPrefixes`: listed at each sweep, each KV v2 secret under one declared by a rendered name.
import type { Logger } from 'pino'
import { NAME_MAX_LENGTH, NAME_PATTERN, type SourceConfig, type VaultPrefixConfig } from '../config/schema.js'
import type { ReferenceResolver } from '../delivery/values.js'
import { compileTemplate, type Template } from '../mapping/template.js'
import type { DeclaredSecret } from './declared.js'

/** What a name template renders against for one listed secret (never its value). */
interface ListedPath {
  /** The full KV path, `apps/billing/db`. */
  path: string
  /** The path below the prefix, `billing/db`. */
  relative: string
  /** `relative` with each `/` turned into `_`, `billing_db`. */
  name: string
}

/** The folder a prefix lists, as listing reports its paths: `apps` and `apps/` both list `apps/`. */
export const folderOf = (prefix: string) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`)

/** The fields a name template may read for the KV path `path` listed under `prefix`. */
function listedPath(prefix: string, path: string): ListedPath {
  const folder = folderOf(prefix)
  const relative = path.startsWith(folder) ? path.slice(folder.length) : path
  return { path, relative, name: relative.replaceAll('/', '_') }
}

/** Compiles each prefix's name template (`reconcileProblems` has refused the ones that do not compile). */
export function compilePrefixNames(source: SourceConfig): Template[] {
  return (source.reconcile?.vaultPrefixes ?? []).map((p, i) =>
    compileTemplate(p.name, `reconcile.vaultPrefixes[${i}].name`),
  )
}

/** The expansion of a source's prefixes, or the first listing that failed (the sweep fails, nothing is dropped). */
export type Expansion = { kind: 'secrets'; secrets: DeclaredSecret[] } | { kind: 'failed'; error: string }

export interface ExpandDeps {
  resolver: Pick<ReferenceResolver, 'list'>
  log: Logger
  /** `vault/name` pairs already declared (static secrets): an expanded one with the same pair is skipped. */
  taken: ReadonlySet<string>
  /** Skips already logged (by `source/path`), so each is logged once per process, not at every sweep. */
  warned: Set<string>
}

/** Lists every prefix of `source` and declares a secret for each path whose rendered name RWX accepts. */
export async function expandPrefixes(
  source: SourceConfig,
  names: readonly Template[],
  deps: ExpandDeps,
): Promise<Expansion> {
  const prefixes = source.reconcile?.vaultPrefixes ?? []
  const out: DeclaredSecret[] = []
  const taken = new Set(deps.taken)
  const skip = (key: string, fields: Record<string, unknown>, why: string) => {
    if (deps.warned.has(key)) return
    deps.warned.add(key)
    deps.log.warn({ source: source.id, ...fields }, `reconcile: skipped a listed Vault secret: ${why}`)
  }
  for (const [i, prefix] of prefixes.entries()) {
    if (deps.resolver.list === undefined) return { kind: 'failed', error: 'Vault cannot be listed' }
    const listed = await deps.resolver.list({ store: 'vault', mount: prefix.mount, prefix: prefix.prefix })
    if (listed.kind !== 'paths')
      return { kind: 'failed', error: `listing ${prefix.mount}/${prefix.prefix} failed: ${listed.error}` }
    for (const path of listed.paths) {
      const d = declareListed(source.id, prefix, i, names[i]!, path)
      const fields = { mount: prefix.mount, path }
      if ('problem' in d) {
        skip(`${source.id}/${prefix.mount}/${path}`, fields, d.problem)
        continue
      }
      const pair = `${d.vault}/${d.name}`
      if (taken.has(pair)) {
        skip(
          `${source.id}/${prefix.mount}/${path}`,
          { ...fields, name: d.name },
          `${pair} is declared already`,
        )
        continue
      }
      taken.add(pair)
      out.push(d)
    }
  }
  return { kind: 'secrets', secrets: out }
}

/** The declared secret for one listed path, or why it has none (a name RWX would refuse). */
function declareListed(
  source: string,
  prefix: VaultPrefixConfig,
  index: number,
  name: Template,
  path: string,
): DeclaredSecret | { problem: string } {
  let rendered: string
  try {
    rendered = name(listedPath(prefix.prefix, path))
  } catch (err) {
    return { problem: (err as Error).message }
  }
  if (!NAME_PATTERN.test(rendered) || rendered.length > NAME_MAX_LENGTH)
    return {
      problem: `the name it renders does not match ${NAME_PATTERN.source} (at most ${NAME_MAX_LENGTH} characters)`,
    }
  return {
    source,
    vault: prefix.vault,
    name: rendered,
    ...(prefix.description === undefined ? {} : { description: prefix.description }),
    ref: { store: 'vault', engine: 'kv', mount: prefix.mount, path, key: prefix.key },
    path: `reconcile.vaultPrefixes[${index}]`,
  }
}
