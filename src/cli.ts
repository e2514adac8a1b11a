#!/usr/bin/env node
// vault-relay's command line: `serve` (the default), `check`, `watch` (src/watch), `send` and the admin commands.
// Each command's module is loaded when it runs: `serve` does not hold the clients' code (undici's whole
// index, jose) in memory for its lifetime, and `--version` loads next to nothing.
import { parseArgs } from 'node:util'
import type { AdminCommand } from './cli/admin.js'
import { COMMAND_USAGE, USAGE, wantsHelp } from './cli/usage.js'
import { ConfigError, type Env } from './config/load.js'
import { StartupError } from './errors.js'
import { VERSION } from './version.js'

async function serve(args: string[], env: Env): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, demo: { type: 'boolean', default: false } },
    allowPositionals: false,
  })
  // --config is RELAY_CONFIG for this run, as `check` and the admin commands take it.
  const runEnv = values.config === undefined ? env : { ...env, RELAY_CONFIG: values.config }
  const { serve: serveRelay } = await import('./server.js')
  await serveRelay(runEnv, process.cwd(), { demo: values.demo })
}

const print = (text: string) => process.stdout.write(`${text}\n`)
const printErr = (text: string) => process.stderr.write(`${text}\n`)

async function main(argv: string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  const env = process.env
  const usage = COMMAND_USAGE[command]
  if (usage !== undefined && wantsHelp(rest)) {
    print(usage)
    return 0
  }
  try {
    switch (command) {
      case 'serve':
        await serve(rest, env)
        return undefined
      case 'check':
        return (await import('./cli/check.js')).runCheck(rest, env, process.cwd(), {
          out: print,
          err: printErr,
        })
      case 'watch':
        return void (await (await import('./watch/run.js')).watch(rest, env))
      case 'send':
        return await (await import('./cli/send.js')).runSend(rest, env, print)
      case '--version':
      case '-v':
        process.stdout.write(`${VERSION}\n`)
        return 0
      case '--help':
      case '-h':
      case 'help': {
        // `help COMMAND` is `COMMAND --help`.
        const topic = rest[0] === undefined ? undefined : COMMAND_USAGE[rest[0]]
        print(topic ?? USAGE)
        return 0
      }
      default: {
        const admin = await import('./cli/admin.js')
        if ((admin.ADMIN_COMMANDS as readonly string[]).includes(command))
          return await admin.runAdminCommand(command as AdminCommand, rest, env, print)
        process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`)
        return 2
      }
    }
  } catch (err) {
    // Only `send` and the admin commands throw it, so the module is loaded by then.
    const { AdminError } = await import('./cli/admin.js')
    if (err instanceof AdminError) {
      process.stderr.write(`vault-relay: ${err.message}\n`)
      return err.exitCode
    }
    if (err instanceof ConfigError || err instanceof StartupError) {
      process.stderr.write(`vault-relay: ${err.message}\n`)
      return 2
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vault-relay: ${err.message}\n\n${usage ?? USAGE}\n`)
      return 2
    }
    process.stderr.write(`vault-relay: ${(err as Error).message}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code
})
