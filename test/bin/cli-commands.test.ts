// The `vault-relay` binary's command surface: each command's --help, serve --config, --json for check and
// send, a relay with its admin API off, and `show` after a retry. Real processes, a real relay.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_USAGE } from '../../src/cli/usage.js'
import { valueAad } from '../../src/queue/crypto.js'
import { type Harness, startHarness } from '../support/app-harness.js'
import { type RelayProcess, runCli, startRelayProcess } from '../support/relay-process.js'

const dir = mkdtempSync(join(tmpdir(), 'relay-cli-commands-'))
const API_KEY = 'cli-commands-api-key-never-printed'
const ADMIN = 'cli-commands-admin-token-never-printed'
const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: dir, env })

let relay: RelayProcess | undefined
afterAll(async () => {
  await relay?.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

// Each command is a process start (seconds on a busy machine): a longer bound than the default.
describe('vault-relay COMMAND --help', { timeout: 60_000 }, () => {
  it('prints each command its own usage and exits 0, even where the command needs arguments', async () => {
    const names = Object.keys(COMMAND_USAGE)
    expect(names).toEqual(
      expect.arrayContaining(['serve', 'check', 'watch', 'send', 'events', 'show', 'retry', 'name']),
    )
    const results = await Promise.all(names.map((n) => run([n, '--help'])))
    results.forEach((res, i) => {
      expect(res.code, names[i]).toBe(0)
      expect(res.out, names[i]).toMatch(new RegExp(`^Usage: vault-relay ${names[i]}\\b`))
    })
    // -h and `help COMMAND` too; `serve -h` must not start a relay.
    expect((await run(['serve', '-h'])).out).toContain('Usage: vault-relay serve [--config FILE]')
    expect((await run(['help', 'send'])).out).toContain('Usage: vault-relay send')
  })
})

describe('a relay started with serve --config', { timeout: 60_000 }, () => {
  const config = join(dir, 'own.yaml')
  beforeAll(async () => {
    // No admin.token: the admin API is off.
    writeFileSync(
      config,
      `store: sqlite:./data/relay.db
sources:
  - id: keyed
    verify: { type: api-key, header: x-api-key, keys: ["${API_KEY}"] }
    rules:
      - when: { /type: rotated }
        secrets: [{ vault: v, name: N, value: /value }]
`,
    )
    relay = await startRelayProcess(
      dir,
      null,
      { RWX_ACCESS_TOKEN: 'rwx-token', RWX_API_URL: 'http://127.0.0.1:1' },
      ['--config', config],
    )
  })

  it('serves the config it was given', async () => {
    const res = await fetch(`${relay!.url}/hooks/keyed`, { method: 'POST', body: '{}' })
    // The source exists (401 for a missing key), where a relay without this config would have none (404).
    expect(res.status).toBe(401)
  })

  it('admin commands say the admin API is off instead of "404 no route"', async () => {
    const res = await run(['status', '--url', relay!.url], { RELAY_ADMIN_TOKEN: ADMIN })
    expect(res.code).toBe(1)
    expect(res.err).toContain("the relay's admin API is off (set admin.token)")
    expect(res.err).not.toContain('no route')
    expect(res.err).not.toContain(ADMIN)
  })

  it('send --json prints the answer as {status, body} with the same exit code', async () => {
    const payload = join(dir, 'unmatched.json')
    writeFileSync(payload, '{"type": "other"}')
    const res = await run(['send', '--config', config, 'keyed', payload, '--url', relay!.url, '--json'])
    expect(res.code).toBe(0)
    const answer = JSON.parse(res.out) as { status: number; body: { event: string; secrets: number } }
    expect(answer.status).toBe(200)
    expect(answer.body.secrets).toBe(0)
    expect(typeof answer.body.event).toBe('string')
    const bad = join(dir, 'bad-value.json')
    writeFileSync(bad, '{"type": "rotated"}')
    const refused = await run(['send', '--config', config, 'keyed', bad, '--url', relay!.url, '--json'])
    expect(refused.code).toBe(1)
    expect((JSON.parse(refused.out) as { status: number }).status).toBe(422)
    expect(res.out + res.err + refused.out + refused.err).not.toContain(API_KEY)
  })
})

describe('vault-relay check --json', { timeout: 60_000 }, () => {
  it('prints the sources and routes as JSON, warnings included, and exits 0', async () => {
    const res = await run(['check', '--config', resolve('relay.example.yaml'), '--json'])
    expect(res.code).toBe(0)
    const doc = JSON.parse(res.out) as {
      ok: boolean
      sources: { id: string; route: string; verify: string }[]
      warnings: string[]
    }
    expect(doc.ok).toBe(true)
    expect(doc.sources).toContainEqual(
      expect.objectContaining({ id: 'stripe', route: 'POST /hooks/stripe', verify: 'stripe' }),
    )
    expect(doc.warnings.join(' ')).toContain('sources[0].verify.secrets[0]')
    expect(res.out).not.toContain('whsec_DEMO-ONLY')
  })

  it('prints every problem of a bad config as JSON and exits 2, without a secret', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(
      file,
      'sources:\n  - id: a\n    verify: { type: stripe, secrets: [whsec_SECRET9], toleranceSeconds: -5 }\n  - id: b\n    verify: { type: hmac, header: x }\n',
    )
    const res = await run(['check', '--config', file, '--json'])
    expect(res.code).toBe(2)
    const doc = JSON.parse(res.out) as { ok: boolean; problems: string[] }
    expect(doc.ok).toBe(false)
    expect(doc.problems).toContain('sources[1].verify.secrets: required')
    expect(res.out + res.err).not.toContain('whsec_SECRET9')
  })
})

describe('vault-relay show after a retry', { timeout: 60_000 }, () => {
  const NOW = 1_800_000_000_000
  let h: Harness
  let url = ''
  beforeAll(async () => {
    h = await startHarness(`admin: { token: ${ADMIN} }\nsources: []\n`, { clock: () => NOW })
    url = await h.app.listen({ port: 0, host: '127.0.0.1' })
    await h.store.enqueue({
      source: 'src',
      eventId: 'evt_retried',
      eventTime: NOW,
      receivedAt: NOW,
      secrets: [
        {
          vault: 'v',
          name: 'R',
          sealed: h.sealer.seal('x', valueAad('v', 'R')),
          ref: null,
          fingerprint: null,
        },
      ],
    })
    // Two failed requests, each counted toward maxAttempts and recorded in the provenance.
    for (const _ of [1, 2]) {
      const [c] = await h.store.claim({ owner: 'w1', now: NOW, leaseMs: 60_000, limit: 1 })
      await h.store.settle(
        'w1',
        NOW,
        [{ id: c!.id, kind: 'retry', at: NOW, error: 'rwx answered 503', countAttempt: true }],
        [
          {
            secretId: c!.id,
            at: NOW,
            outcome: 'retry',
            status: '503',
            version: null,
            error: 'rwx answered 503',
          },
        ],
      )
    }
  })
  afterAll(async () => h?.close())

  it('keeps the attempts made before the retry, and says how many count toward maxAttempts', async () => {
    const env = { RELAY_ADMIN_TOKEN: ADMIN }
    const before = await run(['show', 'src', 'evt_retried', '--url', url], env)
    expect(before.out).toMatch(/v\/R {2}queued .* attempts 2 {2}/)
    const retried = await run(['retry', 'src', 'evt_retried', '--url', url], env)
    expect(retried.code).toBe(0)
    const after = await run(['show', 'src', 'evt_retried', '--url', url], env)
    expect(after.code).toBe(0)
    // The store starts the count again (a fresh maxAttempts); the two requests still happened.
    expect(after.out).toContain('attempts 2 (0 toward delivery.maxAttempts)')
  })
})
