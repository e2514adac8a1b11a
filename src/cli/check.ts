// `vault-relay check [--config F] [--json]`: validates a config and lists its sources and routes.
import { parseArgs } from 'node:util'
import { demoRefusal, demoSecretPaths } from '../config/demo.js'
import { ConfigError, type Env, resolveConfigPath } from '../config/load.js'
import { type Config, valueRefSummary } from '../config/schema.js'
import { loadConfig } from '../load-config.js'

/** A config's routes as data: what `--json` prints and the text view is made of. Never a secret. */
export function configSummary(config: Config) {
  return {
    // A PostgreSQL URL can hold a password: only its kind is shown.
    store: config.store.startsWith('sqlite:') ? config.store : 'postgres',
    rwx: config.rwx.url,
    sources: config.sources.map((s) => ({
      id: s.id,
      // A pull-only source (reconcile, no verify) has no webhook route.
      route: s.verify === undefined ? null : `POST /hooks/${s.id}`,
      verify: s.verify?.type ?? null,
      reconcile:
        s.reconcile === undefined
          ? null
          : {
              everySeconds: s.reconcile.every / 1000,
              repair: s.reconcile.repair,
              secrets: s.reconcile.secrets.length,
              // Listed at each sweep: each secret under one is reconciled under the name `name` renders.
              vaultPrefixes: s.reconcile.vaultPrefixes.map(
                (p) => `vaultKv ${p.mount}/${p.prefix}*#${p.key} -> vault ${p.vault} name ${p.name}`,
              ),
            },
      bodyLimit: s.bodyLimit,
      rules: s.rules.map((rule) => ({
        when: rule.when,
        ...(rule.notice === undefined ? {} : { notice: rule.notice }),
        secrets: rule.secrets.map((sec) => ({
          vault: sec.vault,
          name: sec.name,
          from: typeof sec.value === 'string' ? sec.value : valueRefSummary(sec.value),
        })),
      })),
    })),
  }
}

function describe(summary: ReturnType<typeof configSummary>): string {
  const lines = [`store: ${summary.store}`, `rwx: ${summary.rwx}`, `sources: ${summary.sources.length}`]
  for (const s of summary.sources) {
    const head = s.route === null ? `source ${s.id} (pull-only)` : `${s.route}  verify=${s.verify}`
    const sweep =
      s.reconcile === null
        ? ''
        : `  reconcile every ${s.reconcile.everySeconds}s${s.reconcile.repair ? ' repair' : ''}`
    lines.push(`  ${head}  rules=${s.rules.length}  bodyLimit=${s.bodyLimit}${sweep}`)
    for (const prefix of s.reconcile?.vaultPrefixes ?? [])
      lines.push(`    reconcile every secret under ${prefix}`)
    s.rules.forEach((rule, i) => {
      const when = Object.entries(rule.when)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ')
      lines.push(`    rule ${i}${when ? ` when ${when}` : ' (always)'}`)
      for (const sec of rule.secrets)
        lines.push(`      -> vault ${sec.vault} name ${sec.name} <- ${sec.from}`)
      if (rule.notice !== undefined)
        lines.push(`      -> notice ${rule.notice} (counted and logged, nothing written)`)
    })
  }
  return lines.join('\n')
}

/**
 * Runs `check`; returns the exit code. With `--json` an invalid config is printed as
 * `{"ok": false, "config", "problems"}` (exit 2) instead of thrown.
 */
export function runCheck(
  args: string[],
  env: Env,
  cwd: string,
  io: { out: (text: string) => void; err: (text: string) => void },
): number {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
    allowPositionals: false,
  })
  const path = values.config ?? resolveConfigPath(env, cwd)
  let config: Config
  try {
    config = loadConfig(path, env)
  } catch (err) {
    if (!(values.json && err instanceof ConfigError)) throw err
    io.out(JSON.stringify({ ok: false, config: path, problems: err.problems }, null, 2))
    io.err(`vault-relay: ${err.message}`)
    return 2
  }
  const demo = demoSecretPaths(config)
  const warnings =
    demo.length > 0 && !config.allowDemoSecrets
      ? [demoRefusal(demo).replace(/^refusing to serve/, '`serve` will refuse to start')]
      : []
  const summary = configSummary(config)
  if (values.json) io.out(JSON.stringify({ ok: true, config: path, ...summary, warnings }, null, 2))
  else io.out(`config ok: ${path}\n${describe(summary)}`)
  for (const w of warnings) io.err(`warning: ${w}`)
  return 0
}
