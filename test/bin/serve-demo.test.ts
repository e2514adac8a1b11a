// Safe by default: `vault-relay serve` refuses the example's public DEMO-ONLY secrets unless the user opts in.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { runCli, startRelayProcess } from '../support/relay-process.js'
import { stripeHeader } from '../support/signers.js'

const EXAMPLE = resolve('relay.example.yaml')
const TOKEN = 'rwx-token-demo-test'
const dirs: string[] = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'relay-demo-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const serve = (dir: string, args: string[], env: Record<string, string>) =>
  runCli(['serve', ...args], { cwd: dir, env: { PORT: '0', HOST: '127.0.0.1', ...env } })

/** The example's own demo secret for the stripe source, read from the file (it is public). */
function exampleStripeSecret(): string {
  const m = /STRIPE_WHSEC_NEW:-(whsec_DEMO-ONLY[^}"]*)\}/.exec(readFileSync(EXAMPLE, 'utf8'))
  if (!m?.[1]) throw new Error('example config changed: no DEMO-ONLY stripe secret')
  return m[1]
}

/** Every public DEMO-ONLY default of the example (the `${VAR:-default}` of each demo secret). */
function exampleDemoSecrets(): string[] {
  const all = [
    ...readFileSync(EXAMPLE, 'utf8').matchAll(/\$\{[A-Z_]+:-([^}"]*(?:DEMO-ONLY|REVNTy1PTkxZ)[^}"]*)\}/g),
  ]
  const secrets = all.map((m) => m[1]!)
  if (secrets.length < 4) throw new Error('example config changed: fewer than 4 DEMO-ONLY secrets')
  return secrets
}

describe('serve without a real config', () => {
  it('exits 2 and says what to provide when there is no config, even with relay.example.yaml beside it', async () => {
    const dir = fresh()
    copyFileSync(EXAMPLE, join(dir, 'relay.example.yaml'))
    const res = await serve(dir, [], { RWX_ACCESS_TOKEN: TOKEN })
    expect(res.code).toBe(2)
    expect(res.err).toContain(`no config at ${join(dir, 'relay.yaml')}`)
    expect(res.err).toContain('RELAY_CONFIG')
    expect(res.err).toContain('--demo')
  })

  it('refuses the example config, naming each DEMO-ONLY path and never a value', async () => {
    const res = await serve(fresh(), [], { RELAY_CONFIG: EXAMPLE, RWX_ACCESS_TOKEN: TOKEN })
    expect(res.code).toBe(2)
    expect(res.err).toContain('DEMO-ONLY')
    for (const path of [
      'sources[0].verify.secrets[0]',
      'sources[0].verify.secrets[1]',
      'sources[1].verify.secrets[0]',
      'sources[2].verify.secrets[0]',
    ])
      expect(res.err).toContain(path)
    for (const secret of exampleDemoSecrets()) expect(res.err).not.toContain(secret)
    expect(res.err).not.toContain('REVNTy1PTkxZ')
  })

  it('serves the example once every secret is the operator’s own', async () => {
    const dir = fresh()
    const env = {
      RELAY_CONFIG: EXAMPLE,
      RWX_ACCESS_TOKEN: TOKEN,
      RELAY_STORE: `sqlite:${join(dir, 'relay.db')}`,
      STRIPE_WHSEC_NEW: 'whsec_own-new',
      STRIPE_WHSEC_OLD: 'whsec_own-old',
      ROTATOR_WHSEC: 'whsec_b3duLXJvdGF0b3Ita2V5LW9mLXRoZS1vcGVyYXRvcg==',
      CI_HMAC_SECRET: 'own-hmac',
    }
    const relay = await startRelayProcess(dir, null, env)
    try {
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200)
      expect(relay.output()).not.toContain('DEMO MODE')
    } finally {
      await relay.kill('SIGTERM')
    }
  })
})

describe('serve --demo (what npm start runs)', () => {
  let rwx: FakeRwx | undefined
  afterAll(async () => rwx?.close())

  it('falls back to the packaged example, warns loudly, and accepts an event signed with its public secret', async () => {
    rwx = await startFakeRwx({ token: TOKEN })
    const dir = fresh()
    const relay = await startRelayProcess(
      dir,
      null,
      { RWX_ACCESS_TOKEN: TOKEN, RWX_API_URL: rwx.url, RELAY_STORE: `sqlite:${join(dir, 'relay.db')}` },
      ['--demo'],
    )
    try {
      expect(relay.output()).toContain('DEMO MODE')
      expect(relay.output()).toContain('sources[0].verify.secrets[0]')
      const body = JSON.stringify({
        id: 'evt_demo_1',
        object: 'event',
        type: 'account.application.authorized',
        account: 'acct_demo_value_1',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'ca_demo', object: 'application', name: 'demo' } },
      })
      const res = await fetch(`${relay.url}/hooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': stripeHeader(exampleStripeSecret(), Math.floor(Date.now() / 1000), body),
        },
        body,
      })
      expect(res.status).toBe(202)
      await rwx.waitFor((writes) =>
        writes.some((w) => w.vault === 'payments' && w.name === 'STRIPE_CONNECTED_ACCOUNT'),
      )
      for (const secret of [...exampleDemoSecrets(), 'acct_demo_value_1'])
        expect(relay.output()).not.toContain(secret)
    } finally {
      await relay.kill('SIGTERM')
    }
  })

  it('also opens with allowDemoSecrets: true in the config', async () => {
    const dir = fresh()
    const yaml = `allowDemoSecrets: true\n${readFileSync(EXAMPLE, 'utf8')}`
    const relay = await startRelayProcess(dir, yaml, {
      RWX_ACCESS_TOKEN: TOKEN,
      RELAY_STORE: `sqlite:${join(dir, 'relay.db')}`,
    })
    try {
      expect(relay.output()).toContain('DEMO MODE')
    } finally {
      await relay.kill('SIGTERM')
    }
  })
})
