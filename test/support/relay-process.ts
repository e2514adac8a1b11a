// Runs the real `vault-relay` binary (dist/cli.js) as a child process: a relay, a notifier, or one command to its end.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { until } from './until.js'

const CLI = resolve('dist/cli.js')

export interface RelayProcess extends CliProcess {
  /** e.g. http://127.0.0.1:41234 */
  url: string
  /** Where `/metrics` and `/admin` listen, when the config sets `server.adminPort`. */
  adminUrl?: string
}

/** A running `vault-relay` command: its output so far, its exit, and a way to stop it. */
export interface CliProcess {
  child: ChildProcess
  /** stdout and stderr as they came, interleaved. */
  output(): string
  stdout(): string
  stderr(): string
  /** The exit code, or the signal that ended it; once its output is all read. */
  exited: Promise<number | string>
  kill(signal: NodeJS.Signals): Promise<number | string>
}

/**
 * Runs `bin args` (default: this checkout's dist/cli.js) in `cwd` with only PATH and `env` in its
 * environment, stdin closed.
 */
export function spawnCli(args: string[], cwd: string, env: Record<string, string>, bin = CLI): CliProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => {
    out += String(d)
    stdout += String(d)
  })
  child.stderr?.on('data', (d) => {
    out += String(d)
    stderr += String(d)
  })
  // 'close', not 'exit': by then stdout and stderr are read to the end.
  const exited = new Promise<number | string>((res) => {
    child.on('close', (code, signal) => res(code ?? signal ?? -1))
  })
  return {
    child,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** What a finished `vault-relay` command printed, and its exit code (or the signal that ended it). */
export interface CliResult {
  code: number | string
  out: string
  err: string
}

export interface RunCliOptions {
  /** Default: this process's working directory. */
  cwd?: string
  /** Its environment besides PATH. */
  env?: Record<string, string>
  /** Killed (SIGKILL) after this long; default 20 s. */
  timeoutMs?: number
}

/**
 * Runs `vault-relay args` to its end, without blocking this process (fakes it talks to keep answering),
 * and gives back its exit code, stdout and stderr.
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const cli = spawnCli(args, options.cwd ?? process.cwd(), options.env ?? {})
  const timer = setTimeout(() => void cli.kill('SIGKILL'), options.timeoutMs ?? 20_000)
  try {
    const code = await cli.exited
    return { code, out: cli.stdout(), err: cli.stderr() }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Writes `yaml` as the relay's config in `dir` and starts the relay there on a free port; with `yaml`
 * null no config is written or named (what `serve` finds on its own). `args` follow `serve`; `bin` is
 * another copy of dist/cli.js (an installed one).
 */
export async function startRelayProcess(
  dir: string,
  yaml: string | null,
  env: Record<string, string> = {},
  args: string[] = [],
  options: { bin?: string } = {},
): Promise<RelayProcess> {
  const config = join(dir, 'relay.yaml')
  if (yaml !== null) writeFileSync(config, yaml)
  const cli = spawnCli(
    ['serve', ...args],
    dir,
    { ...(yaml === null ? {} : { RELAY_CONFIG: config }), PORT: '0', HOST: '127.0.0.1', ...env },
    options.bin,
  )
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
  const adminUrl = /"adminUrl":"(http:\/\/[^"]+)".*"msg":"vault-relay listening"/.exec(cli.output())?.[1]
  return { url, ...(adminUrl === undefined ? {} : { adminUrl }), ...cli }
}

/** Resolves once `relay` has no secret queued (its `relay_queue_secrets` gauge on /metrics). */
export async function queueDrained(relay: RelayProcess): Promise<void> {
  await until(async () => {
    const res = await fetch(`${relay.adminUrl ?? relay.url}/metrics`)
    return (await res.text()).includes('relay_queue_secrets{status="queued"} 0')
  }, 'the queue to drain')
}
