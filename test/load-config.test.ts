// The relay's config with every check: config/'s parse plus the key, rule and verifier checks of the app.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/load-config.js'
import { configProblems } from './support/config-problems.js'

const minimal = (extra = '') => `
rwx: { token: t }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["\${CI_SECRET}"] }
    rules:
      - secrets: [{ vault: v, name: N, value: /value }]
${extra}`

const problemsOf = (text: string, env: Record<string, string> = {}) =>
  configProblems(() => parseConfig(text, env))

describe("config loading with the relay's checks", () => {
  it('loads the shipped example with nothing but the RWX token set', () => {
    const config = parseConfig(readFileSync('relay.example.yaml', 'utf8'), { RWX_ACCESS_TOKEN: 'tok' })
    expect(config.rwx.token).toBe('tok')
    expect(config.store).toBe('sqlite:./data/relay.db')
    expect(config.sources.map((s) => s.id)).toEqual(['stripe', 'rotator', 'ci'])
  })

  it('reports rule problems with their paths', () => {
    const problems = problemsOf(
      minimal().replace('name: N', 'name: "bad name!"').replace('value: /value', 'value: "no-slash"'),
      { CI_SECRET: 's' },
    )
    expect(problems.some((p) => p.startsWith('sources[0].rules[0].secrets[0].name'))).toBe(true)
    expect(problems.some((p) => p.startsWith('sources[0].rules[0].secrets[0].value'))).toBe(true)
  })

  it('never echoes a secret in its problems', () => {
    const secret = 'sk_live_NEVER_PRINT_ME'
    const problems = problemsOf(
      `
encryptionKey: ${secret}
rwx: { token: ${secret}, tokenFile: /x }
sources:
  - id: a
    verify: { type: hmac, header: x, secrets: ["${secret}"], algorithm: md5 }
  - id: b
    verify: { type: basic, credentials: ["${secret}"] }
  - id: c
    verify: { type: jwt, keys: ["${secret}"], issuer: i, audience: a, algorithms: [RS256] }
`,
    )
    expect(problems.length).toBeGreaterThanOrEqual(4)
    expect(problems.join('\n')).not.toContain(secret)
  })

  it('lists the problems in one order: variables, overrides, schema, store, key, token, then each source', () => {
    const text = `
store: mysql://x
encryptionKey: too-short
rwx: { token: t, tokenFile: /x }
server: { port: nope }
sources:
  - id: a
    verify: { type: jwt, keys: ["not a key"], issuer: i, audience: a, algorithms: [RS256] }
    rules:
      - secrets: [{ vault: v, name: "bad name!", value: "no-slash" }]
  - id: b
    verify: { type: stripe }
  - id: c
    verify: { type: hmac, header: x-sig, secrets: ["\${UNSET_SECRET}"] }
    rules:
      - secrets: [{ vault: v, name: N, value: /value }]
`
    expect(problemsOf(text, { PORT: 'x' })).toEqual([
      'sources[2].verify.secrets[0]: environment variable UNSET_SECRET is not set',
      'PORT: must be a whole number',
      'server.port: Invalid input: expected number, received string',
      'sources[1].verify.secrets: required',
      'sources[2].verify.secrets[0]: must not be empty',
      'store: must be sqlite:<path> or postgres://user:password@host/db',
      'encryptionKey: must be base64 of exactly 32 bytes',
      'rwx: set token or tokenFile, not both',
      'sources[0].rules[0].secrets[0].name: name "bad name!" must match ^[A-Za-z0-9_-]+$',
      'sources[0].rules[0].secrets[0].value: invalid JSON Pointer "no-slash": must be empty or start with "/"',
      'sources[0].verify: jwt: keys[0] is not a valid public key',
    ])
  })
})
