#!/usr/bin/env node
// vault-relay's command line: `serve` (the default), `check`, `watch` (src/watch), `send` and the admin commands.
import { parseArgs } from 'node:util'
import { ADMIN_COMMANDS, type AdminCommand, AdminError, runAdminCommand } from './cli/admin.js'
import { runSend } from './cli/send.js'
import { demoRefusal, demoSecretPaths } from './config/demo.js'
import { ConfigError, type Env, resolveConfigPath } from './config/load.js'
import type { Config } from './config/schema.js'
import { StartupError } from './errors.js'
import { loadConfig } from './load-config.js'
import { serve as serveRelay } from './server.js'
import { VERSION } from './version.js'

const USAGE = `vault-relay ${VERSION}

Usage:
  vault-relay serve [--demo]        serve the relay (config: RELAY_CONFIG, else ./relay.yaml); refuses the
                                    example's public DEMO-ONLY secrets unless --demo (which also falls back
                                    to relay.example.yaml when there is no config)
  vault-relay check --config FILE   validate a config and list its sources and routes
  vault-relay watch --config FILE   watch Kubernetes Secrets and send their changes to a relay (watch.yaml)
  vault-relay send --config FILE SOURCE payload.json   sign a test event as SOURCE's provider and post it
  vault-relay events [--source S] [--status queued|delivered|dead|...] [--limit N]
  vault-relay show|retry|discard SOURCE EVENT   one event with provenance / make it due / drop it
  vault-relay pause [--reason TEXT] | resume | status   stop or restart delivery on every replica
  vault-relay name show VAULT NAME | name reset VAULT NAME --reason TEXT [--lift-fence]
                                    a name's never-regress watermark and fence / clear it (a stuck name)
  vault-relay --version

Admin commands take --url URL (else RELAY_URL, else --config's address, else http://127.0.0.1:$PORT),
the token from RELAY_ADMIN_TOKEN, and --json for the raw answer.

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage.`

function describe(config: Config): string {
  const lines = [
    `store: ${config.store.startsWith('sqlite:') ? config.store : 'postgres'}`,
    `rwx: ${config.rwx.url}`,
  ]
  lines.push(`sources: ${config.sources.length}`)
  for (const s of config.sources) {
    lines.push(
      `  POST /hooks/${s.id}  verify=${s.verify.type}  rules=${s.rules.length}  bodyLimit=${s.bodyLimit}`,
    )
    s.rules.forEach((rule, i) => {
      const when = Object.entries(rule.when)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ')
      lines.push(`    rule ${i}${when ? ` when ${when}` : ' (always)'}`)
      for (const sec of rule.secrets) {
        const from =
          typeof sec.value === 'string'
            ? sec.value
            : `awsSecretsManager ${sec.value.awsSecretsManager.secretId}`
        lines.push(`      -> vault ${sec.vault} name ${sec.name} <- ${from}`)
      }
    })
  }
  return lines.join('\n')
}

function check(args: string[], env: Env): number {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' } },
    allowPositionals: false,
  })
  const path = values.config ?? resolveConfigPath(env, process.cwd())
  const config = loadConfig(path, env)
  process.stdout.write(`config ok: ${path}\n${describe(config)}\n`)
  const demo = demoSecretPaths(config)
  if (demo.length > 0 && !config.allowDemoSecrets) {
    process.stderr.write(
      `warning: ${demoRefusal(demo).replace(/^refusing to serve/, '`serve` will refuse to start')}\n`,
    )
  }
  return 0
}

async function serve(args: string[], env: Env): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { demo: { type: 'boolean', default: false } },
    allowPositionals: false,
  })
  await serveRelay(env, process.cwd(), { demo: values.demo })
}

async function main(argv: string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  const env = process.env
  try {
    switch (command) {
      case 'serve':
        await serve(rest, env)
        return undefined
      case 'check':
        return check(rest, env)
      case 'watch':
        return void (await (await import('./watch/run.js')).watch(rest, env))
      case 'send':
        return await runSend(rest, env, (t) => process.stdout.write(`${t}\n`))
      case '--version':
      case '-v':
        process.stdout.write(`${VERSION}\n`)
        return 0
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`)
        return 0
      default:
        if ((ADMIN_COMMANDS as readonly string[]).includes(command))
          return await runAdminCommand(command as AdminCommand, rest, env, (t) =>
            process.stdout.write(`${t}\n`),
          )
        process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`)
        return 2
    }
  } catch (err) {
    if (err instanceof AdminError) {
      process.stderr.write(`vault-relay: ${err.message}\n`)
      return err.exitCode
    }
    if (err instanceof ConfigError || err instanceof StartupError) {
      process.stderr.write(`vault-relay: ${err.message}\n`)
      return 2
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vault-relay: ${err.message}\n\n${USAGE}\n`)
      return 2
    }
    process.stderr.write(`vault-relay: ${(err as Error).message}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code
})
