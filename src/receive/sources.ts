// A configured source made ready to take requests (its verifier and compiled rules), or checked at config load.
import { type SourceConfig, takesWebhooks, type WebhookSourceConfig } from '../config/schema.js'
import { type CompiledRules, compileRules, MappingConfigError } from '../mapping/rules.js'
import { createVerifier, type VerifierDeps } from '../verify/registry.js'
import type { Verifier } from '../verify/types.js'

/** One configured source, ready to take requests. */
export interface Source {
  config: WebhookSourceConfig
  verifier: Verifier
  rules: CompiledRules
}

/** Builds every configured source that takes webhooks once, at start-up (a pull-only one has no route). */
export function buildSources(configs: readonly SourceConfig[], deps: VerifierDeps): Map<string, Source> {
  const sources = new Map<string, Source>()
  for (const config of configs) {
    if (!takesWebhooks(config)) continue
    sources.set(config.id, {
      config,
      verifier: createVerifier(config.verify, deps),
      rules: compileRules(config),
    })
  }
  return sources
}

/** A problem of one source that its schema alone cannot see; `path` is relative to the source. */
export interface SourceProblem {
  path: string
  message: string
}

/**
 * Compiles one source that passed its schema, as `buildSources` will: every rule and template problem,
 * then the verifier's. Keys are parsed when a verifier is made, so a bad PEM or JWK is a config error
 * at load rather than a crash at start-up; the verifier made here is closed at once.
 */
export function sourceProblems(config: SourceConfig): SourceProblem[] {
  const problems: SourceProblem[] = []
  try {
    compileRules(config)
  } catch (err) {
    if (!(err instanceof MappingConfigError)) throw err
    problems.push(...err.problems)
  }
  if (config.verify === undefined) return problems
  try {
    createVerifier(config.verify).close?.()
  } catch (err) {
    problems.push({ path: 'verify', message: (err as Error).message })
  }
  return problems
}
