// Runs the real `vault-relay serve` binary (dist/cli.js) as a child process, for end-to-end tests.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const CLI = resolve('dist/cli.js')

export interface RelayProcess extends CliProcess {
  /** e.g. http://127.0.0.1:41234 */
  url: string
}

/** Waits until `check` is true, polling every 20 ms; fails after `timeoutMs` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A running `vault-relay` command: its output so far, its exit, and a way to stop it. */
export interface CliProcess {
  child: ChildProcess
  output(): string
  exited: Promise<number | string>
  kill(signal: NodeJS.Signals): Promise<number | string>
}

/** Runs `dist/cli.js args` in `cwd` with only PATH and `env` in its environment. */
export function spawnCli(args: string[], cwd: string, env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d) => {
    out += String(d)
  })
  child.stderr?.on('data', (d) => {
    out += String(d)
  })
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => res(code ?? signal ?? -1))
  })
  return {
    child,
    output: () => out,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/**
 * Writes `yaml` as the relay's config in `dir` and starts the relay there on a free port; with `yaml`
 * null no config is written or named (what `serve` finds on its own). `args` follow `serve`.
 */
export async function startRelayProcess(
  dir: string,
  yaml: string | null,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<RelayProcess> {
  const config = join(dir, 'relay.yaml')
  if (yaml !== null) writeFileSync(config, yaml)
  const cli = spawnCli(['serve', ...args], dir, {
    ...(yaml === null ? {} : { RELAY_CONFIG: config }),
    PORT: '0',
    HOST: '127.0.0.1',
    ...env,
  })
  let url = ''
  let gone = false
  void cli.exited.then(() => {
    gone = true
  })
  await until(() => {
    const m = /"url":"(http:\/\/[^"]+)".*"msg":"vault-relay listening"/.exec(cli.output())
    if (m?.[1]) url = m[1]
    return url !== '' || gone
  }, 'the relay to listen')
  if (url === '') throw new Error(`relay exited before listening:\n${cli.output()}`)
  return { url, ...cli }
}
