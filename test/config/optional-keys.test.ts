// `${VAR:-}` in a verifier's key list is an optional entry: dropped when it expands to empty, never an empty key.
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/load-config.js'
import { configProblems } from '../support/config-problems.js'

const config = (secrets: string) => `
sources:
  - id: stripe
    verify: { type: stripe, secrets: ${secrets} }
`

const problemsOf = (text: string, env: Record<string, string> = {}) =>
  configProblems(() => parseConfig(text, env))

describe('optional entries of key lists', () => {
  it('drops "${OLD:-}" when OLD is unset, keeping the other secret', () => {
    const parsed = parseConfig(config('["${NEW}", "${OLD:-}"]'), { NEW: 'whsec_new' })
    expect(parsed.sources[0]?.verify).toMatchObject({ secrets: ['whsec_new'] })
  })

  it('keeps "${OLD:-}" when OLD is set', () => {
    const parsed = parseConfig(config('["${NEW}", "${OLD:-}"]'), { NEW: 'whsec_new', OLD: 'whsec_old' })
    expect(parsed.sources[0]?.verify).toMatchObject({ secrets: ['whsec_new', 'whsec_old'] })
  })

  it('drops an optional public key too', () => {
    const parsed = parseConfig(
      `sources:
  - id: rotator
    verify: { type: standard-webhooks, secrets: ["\${SW}"], publicKeys: ["\${SW_PK:-}"] }
`,
      { SW: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' },
    )
    expect(parsed.sources[0]?.verify).toMatchObject({ publicKeys: [] })
  })

  it('drops an optional Event Grid query secret', () => {
    const parsed = parseConfig(
      `sources:
  - id: grid
    verify: { type: azure-event-grid, querySecrets: ["\${CODE}", "\${OLD_CODE:-}"] }
`,
      { CODE: 'code-new' },
    )
    expect(parsed.sources[0]?.verify).toMatchObject({ querySecrets: ['code-new'] })
  })

  it('still refuses a literal empty secret', () => {
    expect(problemsOf(config('["${NEW}", ""]'), { NEW: 'whsec_new' })).toContain(
      'sources[0].verify.secrets[1]: must not be empty',
    )
  })

  it('keeps an unset ${VAR} without a default where its problem points', () => {
    expect(problemsOf(config('["${NEW}", "${OLD:-}"]'))).toEqual([
      'sources[0].verify.secrets[0]: environment variable NEW is not set',
      'sources[0].verify.secrets[0]: must not be empty',
    ])
  })

  it('refuses a list left with no secret at all', () => {
    expect(problemsOf(config('["${OLD:-}"]'))).toEqual([
      expect.stringMatching(/^sources\[0\]\.verify\.secrets: required/),
    ])
  })

  it('drops nothing outside key lists', () => {
    const text = `sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: [s] }
    rules:
      - when: { /type: ["\${T:-}"] }
        secrets: [{ vault: v, name: N, value: /value }]
`
    expect(parseConfig(text, {}).sources[0]?.rules[0]?.when).toEqual({ '/type': [''] })
  })
})
