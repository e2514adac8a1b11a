// What a source keeps in RWX for the reconciliation sweep: its `reconcile.secrets`, or its static rule secrets.
import type { SecretRuleConfig, SourceConfig, ValueRef } from '../config/schema.js'
import { compileRules, MappingConfigError } from '../mapping/rules.js'
import { compileTemplate, isStatic, TemplateSyntaxError } from '../mapping/template.js'

/** One vault and name a source keeps in RWX, with the reference its current version is read from. */
export interface DeclaredSecret {
  source: string
  vault: string
  name: string
  description?: string
  /** The store reference without a version: the sweep pins the version it finds current. */
  ref: ValueRef
  /** Where it was declared: `reconcile.secrets[0]` or `rules[1].secrets[0]`. */
  path: string
}

/** Fields that name a version: left out of a declared reference (they are what the sweep reads). */
const VERSION_FIELDS = new Set(['versionId', 'version'])

type StoreValue = Exclude<SecretRuleConfig['value'], string>

/** The value object without its version fields, or undefined when another field is a template. */
function unversioned(value: StoreValue): StoreValue | undefined {
  const out: Record<string, Record<string, unknown>> = Object.create(null)
  for (const [store, fields] of Object.entries(value)) {
    const kept: Record<string, unknown> = Object.create(null)
    for (const [key, field] of Object.entries(fields as Record<string, unknown>)) {
      if (VERSION_FIELDS.has(key)) continue
      if (typeof field === 'string' && !isStatic(field)) return undefined
      kept[key] = field
    }
    out[store] = { ...kept }
  }
  return { ...out } as StoreValue
}

/** A declared secret from a rule-shaped secret, or why not (a template, a payload value). */
function declare(
  source: SourceConfig,
  secret: SecretRuleConfig,
  path: string,
): DeclaredSecret | { problem: string } {
  if (typeof secret.value === 'string') return { problem: 'its value comes from the payload' }
  if (!isStatic(secret.vault) || !isStatic(secret.name)) return { problem: 'its vault or name is a template' }
  const value = unversioned(secret.value)
  if (value === undefined) return { problem: 'its value store fields are templates' }
  // The store's own branch of the rule compiler builds the reference (every store, one way).
  let rules: ReturnType<typeof compileRules>
  try {
    rules = compileRules({
      ...source,
      eventId: undefined,
      eventTime: undefined,
      rules: [{ when: {}, secrets: [{ vault: secret.vault, name: secret.name, value }] }],
    })
  } catch (err) {
    if (!(err instanceof MappingConfigError)) throw err
    return { problem: err.problems.map((p) => p.message).join('; ') }
  }
  const [mapped] = rules.map({})
  if (mapped === undefined || !('ref' in mapped)) return { problem: 'it names no value store' }
  return {
    source: source.id,
    vault: mapped.vault,
    name: mapped.name,
    ...(secret.description === undefined || !isStatic(secret.description)
      ? {}
      : { description: secret.description }),
    ref: mapped.ref,
    path,
  }
}

/**
 * The secrets a source's sweep reads: `reconcile.secrets` when listed, else every rule secret whose vault,
 * name and store fields are static (a version field may be a template: the sweep reads the current one).
 * Empty for a source without `reconcile`. Throws MappingConfigError for a listed secret that is unusable.
 */
export function declaredSecrets(source: SourceConfig): DeclaredSecret[] {
  const reconcile = source.reconcile
  if (reconcile === undefined) return []
  const out: DeclaredSecret[] = []
  const problems: { path: string; message: string }[] = []
  if (reconcile.secrets.length > 0) {
    reconcile.secrets.forEach((secret, i) => {
      const path = `reconcile.secrets[${i}]`
      const d = declare(source, secret, path)
      if ('problem' in d) problems.push({ path, message: `cannot be reconciled: ${d.problem}` })
      else out.push(d)
    })
  } else {
    source.rules.forEach((rule, i) => {
      rule.secrets.forEach((secret, j) => {
        const d = declare(source, secret, `rules[${i}].secrets[${j}]`)
        if (!('problem' in d)) out.push(d)
      })
    })
  }
  const seen = new Set<string>()
  for (const d of out) {
    const key = `${d.vault}/${d.name}`
    if (seen.has(key))
      problems.push({ path: d.path, message: `declares vault ${d.vault} name ${d.name} twice` })
    seen.add(key)
  }
  if (problems.length > 0) throw new MappingConfigError(problems)
  return out
}

/** The problems of a source's `reconcile` (nothing to read, unusable secrets, bad prefix names); paths relative to the source. */
export function reconcileProblems(source: SourceConfig): { path: string; message: string }[] {
  if (source.reconcile === undefined) return []
  let declared: DeclaredSecret[]
  try {
    declared = declaredSecrets(source)
  } catch (err) {
    if (err instanceof MappingConfigError) return [...err.problems]
    throw err
  }
  const problems: { path: string; message: string }[] = []
  source.reconcile.vaultPrefixes.forEach((prefix, i) => {
    try {
      compileTemplate(prefix.name)
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err
      problems.push({ path: `reconcile.vaultPrefixes[${i}].name`, message: err.message })
    }
  })
  if (problems.length > 0) return problems
  if (declared.length > 0 || source.reconcile.vaultPrefixes.length > 0) return []
  return [
    {
      path: 'reconcile.secrets',
      message:
        'required: list the secrets to reconcile (none of the rules has a static vault, name and value store reference)',
    },
  ]
}
