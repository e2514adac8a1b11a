// deploy/compose.yaml as docker compose reads it (no Docker engine here): what reaches the relay's environment,
// and that the real binary starts with exactly that environment and a config naming a provider's secret.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { startRelayProcess } from '../support/relay-process.js'

const DEPLOY = 'deploy'
type Service = { image?: string; env_file?: unknown; environment?: Record<string, string> }
const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>
}
/** The relay replicas: every service running the relay's image. */
const relays = Object.entries(compose.services).filter(([, s]) => s.image === 'vault-relay:local')

/** A .env file as compose reads it: KEY=VALUE lines, `#` comments, optional quotes. */
function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2')
  }
  return out
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (unset or empty is an error). */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g, (_, name, op, arg) => {
    const v = vars[name]
    if (op === '-') return v ? v : arg
    if (op === '?' && !v) throw new Error(`compose refuses to start: ${name}: ${arg}`)
    return v ?? ''
  })
}

/** The env files a service names (short or long syntax), relative to deploy/. */
function envFiles(service: Service): string[] {
  const list = service.env_file === undefined ? [] : [service.env_file].flat()
  return list.map((f) => (typeof f === 'string' ? f : (f as { path: string }).path).replace(/^\.\//, ''))
}

/** What a container of `service` gets: its env files' variables, then `environment` (which wins). */
function containerEnv(service: Service, files: Record<string, string>): Record<string, string> {
  const dotenv = parseDotenv(files['.env'] ?? '')
  const env: Record<string, string> = {}
  for (const f of envFiles(service)) Object.assign(env, parseDotenv(files[f] ?? ''))
  for (const [k, v] of Object.entries(service.environment ?? {})) env[k] = interpolate(String(v), dotenv)
  return env
}

const dir = mkdtempSync(join(tmpdir(), 'relay-compose-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('deploy/compose.yaml', () => {
  it('gives every relay replica deploy/.env as an env_file, so any ${VAR} of the config can be set', () => {
    expect(relays.map(([name]) => name)).toEqual(['relay-1', 'relay-2'])
    for (const [, service] of relays) expect(envFiles(service)).toEqual(['.env'])
  })

  it('the relay starts with a config naming ${STRIPE_WHSEC_NEW}, in the environment compose gives it', async () => {
    // deploy/.env as the user writes it: compose.env.example filled in, plus the config's own variable.
    const example = readFileSync(join(DEPLOY, 'compose.env.example'), 'utf8')
    const filled: Record<string, string> = {
      POSTGRES_PASSWORD: 'pw',
      RELAY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      RWX_ACCESS_TOKEN: 'rwx-token',
    }
    const dotenv = `${example
      .split('\n')
      .map((line) => {
        const key = /^([A-Z_]+)=$/.exec(line)?.[1]
        return key && filled[key] ? `${key}=${filled[key]}` : line
      })
      .join('\n')}\nRWX_API_URL=http://127.0.0.1:9\nSTRIPE_WHSEC_NEW=whsec_from_dotenv\n`
    const env = containerEnv(relays[0]![1], { '.env': dotenv })
    expect(env.STRIPE_WHSEC_NEW).toBe('whsec_from_dotenv')
    expect(env.RELAY_STORE).toBe('postgres://relay:pw@postgres:5432/relay')
    // The one change: no host named `postgres` here, and the relay waits for its database before it
    // listens; the store is not what this test is about.
    env.RELAY_STORE = `sqlite:${join(dir, 'relay.db')}`
    const config = [
      'rwx: { url: "${RWX_API_URL}", token: "${RWX_ACCESS_TOKEN}" }',
      'encryptionKey: ${RELAY_ENCRYPTION_KEY}',
      'sources:',
      '  - id: stripe',
      '    verify: { type: stripe, secrets: ["${STRIPE_WHSEC_NEW}"] }',
      '    rules: []',
    ].join('\n')
    const relay = await startRelayProcess(dir, config, env)
    try {
      expect((await fetch(`${relay.url}/readyz`)).status).toBe(200)
    } finally {
      await relay.kill('SIGTERM')
    }
  })
})
