#!/usr/bin/env node
// vault-relay's command line: `serve` (the default), `check --config F`, `send`, and the admin commands.
import { parseArgs } from 'node:util'
import { ADMIN_COMMANDS, type AdminCommand, AdminError, runAdminCommand } from './cli/admin.js'
import { runSend } from './cli/send.js'
import { ConfigError, type Env, loadConfig, resolveConfigPath } from './config/load.js'
import type { Config } from './config/schema.js'
import { StartupError, startRelay } from './server.js'
import { VERSION } from './version.js'

const USAGE = `vault-relay ${VERSION}

Usage:
  vault-relay serve                 serve the relay (config: RELAY_CONFIG, ./relay.yaml or ./relay.example.yaml)
  vault-relay check --config FILE   validate a config and list its sources and routes
  vault-relay send --config FILE SOURCE payload.json   sign a test event as SOURCE's provider and post it
  vault-relay events [--source S] [--status queued|delivered|dead|...] [--limit N]
  vault-relay show|retry|discard SOURCE EVENT   one event with provenance / make it due / drop it
  vault-relay pause [--reason TEXT] | resume | status   stop or restart delivery on every replica
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
  return 0
}

async function serve(env: Env): Promise<void> {
  const relay = await startRelay(env, process.cwd())
  const grace = relay.config.server.shutdownGraceSeconds * 1000
  const stop = (signal: string) => {
    relay.app.log.info({ signal }, 'signal received')
    const timer = setTimeout(() => {
      relay.app.log.error(
        'shutdown took longer than the grace period: exiting; leased work is retried after restart',
      )
      process.exit(1)
    }, grace)
    timer.unref()
    relay.close().then(
      () => process.exit(0),
      (err: unknown) => {
        relay.app.log.error({ err: (err as Error).message }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}

async function main(argv: string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  const env = process.env
  try {
    switch (command) {
      case 'serve':
        await serve(env)
        return undefined
      case 'check':
        return check(rest, env)
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
