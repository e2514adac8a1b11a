// Demo mode (`npm start`: `serve --demo` on the public DEMO-ONLY secrets) listens on loopback only unless told otherwise.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type CliProcess, spawnCli } from '../support/relay-process.js'
import { until } from '../support/until.js'

const TOKEN = 'rwx-token-demo-bind-test'
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A non-loopback IPv4 address of this machine, if it has one. */
const OTHER_ADDRESS = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address

/** Starts `vault-relay serve --demo` with no HOST (unless `env` sets it) on a free port; its port and the process. */
async function serveDemo(env: Record<string, string> = {}, yaml?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-demo-bind-'))
  dirs.push(dir)
  const config: Record<string, string> = {}
  if (yaml !== undefined) {
    const path = join(dir, 'relay.yaml')
    writeFileSync(path, yaml)
    config.RELAY_CONFIG = path
  }
  const cli = spawnCli(['serve', '--demo'], dir, {
    PORT: '0',
    RWX_ACCESS_TOKEN: TOKEN,
    RWX_API_URL: 'http://127.0.0.1:9',
    RELAY_STORE: `sqlite:${join(dir, 'relay.db')}`,
    ...config,
    ...env,
  })
  let port = 0
  await until(() => {
    const m = /"url":"http:\/\/[^"]+:(\d+)".*"msg":"vault-relay listening"/.exec(cli.output())
    if (m?.[1]) port = Number(m[1])
    return port !== 0 || cli.child.exitCode !== null
  }, 'the relay to listen')
  if (port === 0) throw new Error(`relay exited before listening:\n${cli.output()}`)
  return { cli, port }
}

/** 'connected' or the error code of a TCP connection to host:port. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const socket = connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      res('connected')
    })
    socket.once('error', (err: NodeJS.ErrnoException) => res(err.code ?? 'error'))
  })
}

/** The JSON log lines of `cli` whose msg starts with `prefix`. */
function logLines(cli: CliProcess, prefix: string): Record<string, unknown>[] {
  return cli
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix))
}

describe('serve --demo listening address', () => {
  it('listens on 127.0.0.1 only without HOST or server.host, and logs the address and why', async () => {
    const { cli, port } = await serveDemo()
    try {
      const [line] = logLines(cli, 'DEMO MODE: listening')
      expect(line).toMatchObject({ host: '127.0.0.1', reason: expect.stringContaining('loopback') })
      expect(await tryConnect('127.0.0.1', port)).toBe('connected')
      if (OTHER_ADDRESS !== undefined) expect(await tryConnect(OTHER_ADDRESS, port)).toBe('ECONNREFUSED')
    } finally {
      await cli.kill('SIGTERM')
    }
  })

  it('obeys an explicit HOST, and says so', async () => {
    const { cli, port } = await serveDemo({ HOST: '0.0.0.0' })
    try {
      const [line] = logLines(cli, 'DEMO MODE: listening')
      expect(line).toMatchObject({ host: '0.0.0.0', reason: 'HOST is set' })
      if (OTHER_ADDRESS !== undefined) expect(await tryConnect(OTHER_ADDRESS, port)).toBe('connected')
    } finally {
      await cli.kill('SIGTERM')
    }
  })

  it('obeys server.host written in the config file', async () => {
    const example = readFileSync(resolve('relay.example.yaml'), 'utf8')
    const yaml = `allowDemoSecrets: true\n${example.replace(/^server:\n/m, 'server:\n  host: 0.0.0.0\n')}`
    expect(yaml).toContain('  host: 0.0.0.0\n')
    const { cli } = await serveDemo({}, yaml)
    try {
      const [line] = logLines(cli, 'DEMO MODE: listening')
      expect(line).toMatchObject({ host: '0.0.0.0', reason: expect.stringContaining('server.host is set') })
    } finally {
      await cli.kill('SIGTERM')
    }
  })
})
