// The relay's config: config/ parses it, and this layer adds the checks that need the app's own modules.
import { type ConfigChecks, type Env, parseConfigText, readConfigFile } from './config/load.js'
import type { Config } from './config/schema.js'
import { parseKey } from './queue/crypto.js'
import { sourceProblems } from './receive/sources.js'
import { reconcileProblems } from './reconcile/declared.js'

/** The key the store's values are sealed with, and each source as `buildSources` will build it. */
const RELAY_CHECKS: ConfigChecks = {
  encryptionKey(key) {
    try {
      parseKey(key)
      return undefined
    } catch {
      return 'must be base64 of exactly 32 bytes'
    }
  },
  source(source) {
    const problems = sourceProblems(source)
    // A source whose rules do not compile has no secrets to derive yet: its rule problems say why.
    return problems.length > 0 ? problems : reconcileProblems(source)
  },
}

/** Parses config text (YAML) from `file` with `env`; throws ConfigError listing every problem. */
export function parseConfig(text: string, env: Env, file = 'config'): Config {
  return parseConfigText(text, env, file, RELAY_CHECKS)
}

/** Reads and parses the config at `path`. */
export function loadConfig(path: string, env: Env): Config {
  return parseConfig(readConfigFile(path), env, path)
}
