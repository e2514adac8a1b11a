import { describe, expect, it } from 'vitest'
import { type ConfigChecks, type Env, parseConfigText } from '../../src/config/load.js'
import { configProblems } from '../support/config-problems.js'

/** config/'s own parse; the app's checks (keys, rules, verifiers) are test/load-config.test.ts's. */
const parseConfig = (text: string, env: Env, checks: ConfigChecks = {}) =>
  parseConfigText(text, env, 'config', checks)

const minimal = (extra = '') => `
rwx: { token: t }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["\${CI_SECRET}"] }
    rules:
      - secrets: [{ vault: v, name: N, value: /value }]
${extra}`

const problemsOf = (text: string, env: Record<string, string> = {}, checks: ConfigChecks = {}) =>
  configProblems(() => parseConfig(text, env, checks))

describe('config loading', () => {
  it('expands ${VAR} and ${VAR:-default} in every string', () => {
    const config = parseConfig(minimal('store: ${STORE:-sqlite:/tmp/x.db}'), { CI_SECRET: 's3' })
    expect(config.store).toBe('sqlite:/tmp/x.db')
    const v = config.sources[0]?.verify
    expect(v?.type === 'hmac' && v.secrets).toEqual(['s3'])
  })

  it('names ${toString} and ${constructor} as unset variables', () => {
    const problems = problemsOf(minimal('store: ${toString}${constructor}'), { CI_SECRET: 's3' })
    expect(problems).toContain('store: environment variable toString is not set')
    expect(problems).toContain('store: environment variable constructor is not set')
  })

  it('treats a __proto__ key as a key: reported as unknown, never inherited', () => {
    const text = `
rwx: { token: t }
sources:
  - __proto__: { id: ci, verify: { type: api-key, header: x-key, keys: [k] }, rules: [] }
`
    const problems = problemsOf(text)
    expect(problems).toContain('sources[0].id: required')
    expect(problems.join('\n')).toMatch(/__proto__/)
  })

  it('names an unset variable and where it is used', () => {
    expect(problemsOf(minimal())).toContain(
      'sources[0].verify.secrets[0]: environment variable CI_SECRET is not set',
    )
  })

  it('lets the environment override the file', () => {
    const config = parseConfig(minimal('store: sqlite:/a.db'), {
      CI_SECRET: 's',
      RELAY_STORE: 'sqlite:/b.db',
      PORT: '9999',
      HOST: '127.0.0.1',
      RWX_API_URL: 'http://127.0.0.1:1',
      RWX_ACCESS_TOKEN: 'from-env',
      RELAY_ADMIN_TOKEN: 'adm',
      LOG_LEVEL: 'debug',
    })
    expect(config.store).toBe('sqlite:/b.db')
    expect(config.server).toMatchObject({ port: 9999, host: '127.0.0.1' })
    expect(config.rwx).toMatchObject({ url: 'http://127.0.0.1:1', token: 'from-env' })
    expect(config.admin.token).toBe('adm')
    expect(config.logLevel).toBe('debug')
  })

  it('lists every bad path at once', () => {
    const problems = problemsOf(`
sources:
  - id: a
    verify: { type: stripe, secrets: [x] }
  - id: b
    verify: { type: stripe }
  - id: c
    verify: { type: nope }
    bodyLimit: -1
`)
    expect(problems).toContain('sources[1].verify.secrets: required')
    expect(problems.some((p) => p.startsWith('sources[2].verify.type'))).toBe(true)
    expect(problems.some((p) => p.startsWith('sources[2].bodyLimit'))).toBe(true)
  })

  it('requires an encryption key with PostgreSQL', () => {
    expect(problemsOf(minimal('store: postgres://u:p@localhost/db'), { CI_SECRET: 's' })).toContain(
      'encryptionKey: required with a PostgreSQL store',
    )
  })

  it('refuses duplicate source ids and unknown keys', () => {
    const problems = problemsOf(`
sources:
  - { id: a, verify: { type: api-key, header: x, keys: [k] } }
  - { id: a, verify: { type: api-key, header: x, keys: [k] }, colour: red }
`)
    expect(problems).toContain('sources[1].id: duplicate id')
    expect(problems.some((p) => p.includes('colour'))).toBe(true)
  })

  it('keeps every event unless retention is set', () => {
    expect(parseConfig(minimal(), { CI_SECRET: 's' }).retention).toEqual({})
    expect(parseConfig(minimal('retention: { days: 30 }'), { CI_SECRET: 's' }).retention).toEqual({
      days: 30,
    })
  })

  it('refuses retention shorter than providers retry, or not in whole days', () => {
    const short = problemsOf(minimal('retention: { days: 6 }'), { CI_SECRET: 's' })
    expect(short).toEqual([
      expect.stringMatching(/^retention\.days: must be at least 7: .*id is accepted again/),
    ])
    expect(short[0]).toMatch(/Stripe up to 3, Standard Webhooks\/Svix about 5/)
    expect(problemsOf(minimal('retention: { days: 7.5 }'), { CI_SECRET: 's' })).toEqual([
      'retention.days: must be a whole number of days',
    ])
    expect(problemsOf(minimal('retention: { days: "30" }'), { CI_SECRET: 's' })).toEqual([
      expect.stringMatching(/^retention\.days: /),
    ])
    expect(problemsOf(minimal('retention: { keep: 30 }'), { CI_SECRET: 's' })).toEqual([
      'retention: unknown key keep',
    ])
  })

  it('leaves verify after write off and the RWX circuit breaker on by default, and checks both', () => {
    const d = parseConfig(minimal(), { CI_SECRET: 's' }).delivery
    expect(d.verify).toBe(false)
    expect(d.breaker).toEqual({ threshold: 3, probeMs: 1000, probeMaxMs: 30000, connectProbeMaxMs: 2000 })
    const set = parseConfig(minimal('delivery: { verify: true, breaker: { threshold: 0 } }'), {
      CI_SECRET: 's',
    })
    expect(set.delivery).toMatchObject({
      verify: true,
      breaker: { threshold: 0, probeMs: 1000 },
      batchSize: 100,
    })
    expect(
      problemsOf(minimal('delivery: { breaker: { threshold: -1, probe: 5 } }'), { CI_SECRET: 's' }),
    ).toEqual([
      expect.stringMatching(/^delivery\.breaker\.threshold: /),
      'delivery.breaker: unknown key probe',
    ])
  })

  it('runs the checks it is given in place: the key after the store, each source after every top-level problem', () => {
    const seen: string[] = []
    const checks: ConfigChecks = {
      encryptionKey(key) {
        seen.push(key)
        return 'refused by the check'
      },
      source(source) {
        seen.push(source.id)
        return [{ path: 'verify', message: `${source.id} refused` }]
      },
    }
    const text = `
store: mysql://x
encryptionKey: k1
rwx: { token: t, tokenFile: /x }
sources:
  - { id: ci, verify: { type: api-key, header: x, keys: [k] } }
`
    expect(problemsOf(text, {}, checks)).toEqual([
      'store: must be sqlite:<path> or postgres://user:password@host/db',
      'encryptionKey: refused by the check',
      'rwx: set token or tokenFile, not both',
      'sources[0].verify: ci refused',
    ])
    expect(seen).toEqual(['k1', 'ci'])
  })

  it('reports YAML syntax errors by line', () => {
    const problems = problemsOf('sources: [\n  - id: a\n')
    expect(problems[0]).toMatch(/^line \d+:/)
  })
})
