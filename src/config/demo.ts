// The example config's public DEMO-ONLY signing secrets: found by path, refused unless the user opts in.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from './schema.js'

/** 'DEMO-ONLY' in clear, or at the start of base64 (a `whsec_` secret made from it). */
const DEMO_MARK = /DEMO-ONLY|REVNTy1PTkxZ/

/** The example config shipped with the package, one level above both src/ and dist/. */
export const PACKAGED_EXAMPLE = fileURLToPath(new URL('../../relay.example.yaml', import.meta.url))

function walk(value: unknown, path: string, out: string[]): void {
  if (typeof value === 'string') {
    if (DEMO_MARK.test(value)) out.push(path)
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walk(v, `${path}[${i}]`, out)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, out)
  }
}

/**
 * The config paths (`sources[0].verify.secrets[1]`) that hold a public DEMO-ONLY secret or key. Paths
 * only: the values are public, but a message naming paths reads the same for every secret.
 */
export function demoSecretPaths(config: Pick<Config, 'sources'>): string[] {
  const out: string[] = []
  for (const [i, s] of config.sources.entries()) walk(s.verify, `sources[${i}].verify`, out)
  return out
}

/** The example config `serve --demo` falls back to: the one in `cwd`, else the packaged one. */
export function exampleConfigPath(cwd: string): string {
  const local = join(cwd, 'relay.example.yaml')
  return existsSync(local) ? local : PACKAGED_EXAMPLE
}

/** Why `serve` refuses to start on DEMO-ONLY secrets, and how to go on. */
export function demoRefusal(paths: readonly string[]): string {
  return [
    `refusing to serve with the example's public DEMO-ONLY signing secrets (anyone could forge events into your vaults):`,
    ...paths.map((p) => `  - ${p}`),
    'set your own secrets (environment variables or your relay.yaml), or opt in to try the relay:',
    '`vault-relay serve --demo` (what `npm start` does) or `allowDemoSecrets: true` in the config.',
  ].join('\n')
}

/** Why `serve` cannot start without a config, and what to provide. */
export function noConfig(path: string): string {
  return [
    `no config at ${path}: provide your own relay.yaml (start from relay.example.yaml and set real signing secrets)`,
    'and point RELAY_CONFIG at it (or put it at ./relay.yaml); to try the example as is: `vault-relay serve --demo`.',
  ].join('\n')
}
