// The `vault-relay` binary: check and serve's start-up refusals, run as a real process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/relay-process.js'

const dir = mkdtempSync(join(tmpdir(), 'relay-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: dir, env })

describe('vault-relay check', () => {
  it('validates the shipped example and lists its sources and routes', async () => {
    const res = await run(['check', '--config', resolve('relay.example.yaml')])
    expect(res.code).toBe(0)
    expect(res.out).toContain('POST /hooks/stripe  verify=stripe')
    expect(res.out).toContain('POST /hooks/rotator  verify=standard-webhooks')
    expect(res.out).toContain('-> vault payments name STRIPE_CONNECTED_ACCOUNT <- /account')
    expect(res.out).toContain('-> vault {{ /data/vault | slug }} name {{ /data/name }} <- /data/value')
    // Valid, but `serve` would refuse it: check says so, by path.
    expect(res.err).toContain('warning: `serve` will refuse to start')
    expect(res.err).toContain('sources[0].verify.secrets[0]')
    expect(res.err).not.toContain('whsec_DEMO-ONLY')
  })

  it('exits 2 listing every problem, without echoing a secret', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(
      file,
      `
encryptionKey: not-a-key-SECRET123
sources:
  - id: a
    verify: { type: stripe, secrets: [whsec_SECRET123] , toleranceSeconds: -5 }
  - id: b
    verify: { type: hmac, header: x }
`,
    )
    const res = await run(['check', '--config', file])
    expect(res.code).toBe(2)
    expect(res.err).toContain('sources[1].verify.secrets: required')
    expect(res.err).toContain('sources[0].verify.toleranceSeconds')
    expect(res.err).toContain('encryptionKey: must be base64 of exactly 32 bytes')
    expect(res.err).not.toContain('SECRET123')
  })

  it('exits 2 for a config file that does not exist', async () => {
    const res = await run(['check', '--config', join(dir, 'missing.yaml')])
    expect(res.code).toBe(2)
    expect(res.err).toContain('not found')
  })
})

describe('vault-relay serve', () => {
  it('says what to set and exits 2 without an RWX token', async () => {
    const res = await run(['serve'], { RELAY_CONFIG: resolve('relay.example.yaml') })
    expect(res.code).toBe(2)
    expect(res.err).toContain('RWX_ACCESS_TOKEN')
  })

  it('exits 2 on an unknown command and prints usage', async () => {
    const res = await run(['frobnicate'])
    expect(res.code).toBe(2)
    expect(res.err).toContain('Usage:')
  })

  it('lists watch in its help; watch exits 2 naming each problem of a bad watch.yaml', async () => {
    expect((await run(['--help'])).out).toContain('vault-relay watch --config FILE')
    const file = join(dir, 'watch.yaml')
    writeFileSync(file, 'relay: { url: http://relay }\nwatches: []\n')
    const res = await run(['watch', '--config', file])
    expect(res.code).toBe(2)
    expect(res.err).toContain('relay.tokenFile: required')
    expect(res.err).toContain('watches: required: at least one')
  })

  it('prints its version', async () => {
    const res = await run(['--version'])
    expect(res.code).toBe(0)
    expect(res.out.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

describe('vault-relay admin commands and send, refusing', () => {
  it('exits 2 without RELAY_ADMIN_TOKEN, or without SOURCE EVENT', async () => {
    const none = await run(['events', '--url', 'http://127.0.0.1:1'])
    expect(none.code).toBe(2)
    expect(none.err).toContain('set RELAY_ADMIN_TOKEN')
    const bare = await run(['show', 'only-source'], { RELAY_ADMIN_TOKEN: 't' })
    expect(bare.code).toBe(2)
    expect(bare.err).toContain('usage: vault-relay show SOURCE EVENT')
  })

  it('exits 1 saying so when the relay cannot be reached, never printing the token', async () => {
    const res = await run(['status', '--url', 'http://127.0.0.1:1'], {
      RELAY_ADMIN_TOKEN: 'tok-never-printed',
    })
    expect(res.code).toBe(1)
    expect(res.err).toContain('cannot reach the relay at http://127.0.0.1:1')
    expect(res.err + res.out).not.toContain('tok-never-printed')
  })

  it('send says clearly when the source holds only public keys, and exits 2', async () => {
    const file = join(dir, 'sns.yaml')
    writeFileSync(
      file,
      'sources:\n  - { id: sns, verify: { type: aws-sns, topicArns: ["arn:aws:sns:eu-west-1:1:t"] } }\n',
    )
    const payload = join(dir, 'p.json')
    writeFileSync(payload, '{"a": 1}')
    const res = await run(['send', '--config', file, 'sns', payload, '--url', 'http://127.0.0.1:1'])
    expect(res.code).toBe(2)
    expect(res.err).toContain('cannot sign for source sns (verify.type aws-sns)')
    const unknown = await run(['send', '--config', file, 'nope', payload])
    expect(unknown.code).toBe(2)
    expect(unknown.err).toContain('no source nope')
  })
})
