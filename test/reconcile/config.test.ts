// Reconciliation config: `reconcile` on a source, pull-only sources, and the secrets a sweep reads.
import { describe, expect, it } from 'vitest'
import { configSummary } from '../../src/cli/check.js'
import { parseDuration } from '../../src/config/schema.js'
import { parseConfig } from '../../src/load-config.js'
import { declaredSecrets } from '../../src/reconcile/declared.js'
import { configProblems } from '../support/config-problems.js'

const problemsOf = (text: string) => configProblems(() => parseConfig(text, {}))

describe('reconcile config', () => {
  it('reads durations as 30s, 10m, 1h or seconds', () => {
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('10m')).toBe(600_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration(5)).toBe(5_000)
    expect(parseDuration('2x')).toBeUndefined()
    expect(parseDuration('0s')).toBeUndefined()
  })

  it('takes a pull-only source (no verify) with reconcile secrets, with defaults', () => {
    const config = parseConfig(
      `sources:
  - id: aws
    reconcile:
      secrets:
        - vault: v1
          name: DB_PASSWORD
          value: { awsSecretsManager: { secretId: prod/db, jsonKey: password } }
`,
      {},
    )
    const source = config.sources[0]!
    expect(source.verify).toBeUndefined()
    expect(source.reconcile).toMatchObject({ every: 600_000, jitter: 0.1, repair: false })
    expect(declaredSecrets(source)).toEqual([
      {
        source: 'aws',
        vault: 'v1',
        name: 'DB_PASSWORD',
        ref: { secretId: 'prod/db', jsonKey: 'password' },
        path: 'reconcile.secrets[0]',
      },
    ])
  })

  it("derives the secrets from the source's static rules, leaving out the version template", () => {
    const config = parseConfig(
      `sources:
  - id: aws
    verify: { type: api-key, header: x-key, keys: [k] }
    reconcile: { every: 30s, repair: true }
    rules:
      - secrets:
          - vault: v1
            name: DB
            value: { awsSecretsManager: { secretId: prod/db, versionId: "{{ /detail/versionId }}" } }
          - vault: v1
            name: "{{ /name }}"
            value: { awsSecretsManager: { secretId: other } }
          - { vault: v1, name: PLAIN, value: /value }
`,
      {},
    )
    const declared = declaredSecrets(config.sources[0]!)
    expect(declared.map((d) => [d.vault, d.name, d.ref])).toEqual([['v1', 'DB', { secretId: 'prod/db' }]])
    expect(config.sources[0]!.reconcile!.every).toBe(30_000)
  })

  it('refuses a source with neither verify nor reconcile, and bad reconcile settings, naming each path', () => {
    const problems = problemsOf(`sources:
  - id: none
  - id: bad-every
    reconcile: { every: 2x, secrets: [{ vault: v, name: n, value: { awsSecretsManager: { secretId: s } } }] }
  - id: nothing-to-read
    reconcile: {}
  - id: bad-secrets
    reconcile:
      secrets:
        - { vault: v, name: "bad name", value: { awsSecretsManager: { secretId: x } } }
        - { vault: v, name: "{{ /x }}", value: { awsSecretsManager: { secretId: x } } }
        - { vault: v, name: n, value: /x }
`)
    expect(problems).toContainEqual(expect.stringMatching(/^sources\[0\]\.verify: required/))
    expect(problems).toContainEqual(
      expect.stringMatching(/^sources\[1\]\.reconcile\.every: must be a duration/),
    )
    expect(problems).toContainEqual(expect.stringMatching(/^sources\[2\]\.reconcile\.secrets: required/))
    expect(problems).toContainEqual(
      expect.stringMatching(/^sources\[3\]\.reconcile\.secrets\[2\]\.value: must name a value store/),
    )
  })

  it('reports unusable listed secrets once the schema passes', () => {
    const problems = problemsOf(`sources:
  - id: s
    reconcile:
      secrets:
        - { vault: v, name: "bad name", value: { awsSecretsManager: { secretId: x } } }
        - { vault: v, name: "{{ /x }}", value: { awsSecretsManager: { secretId: x } } }
        - { vault: v, name: ok, value: { awsSecretsManager: { secretId: x } } }
        - { vault: v, name: ok, value: { awsSecretsManager: { secretId: y } } }
`)
    expect(problems).toContainEqual(
      expect.stringMatching(/^sources\[0\]\.reconcile\.secrets\[0\]: cannot be reconciled: .*must match/),
    )
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^sources\[0\]\.reconcile\.secrets\[1\]: cannot be reconciled: its vault or name is a template/,
      ),
    )
    expect(problems).toContainEqual(
      expect.stringMatching(/^sources\[0\]\.reconcile\.secrets\[3\]: declares vault v name ok twice/),
    )
  })
})

describe('reconcile.vaultPrefixes config', () => {
  const VAULT = 'vault: { address: "http://127.0.0.1:1", auth: { method: token, tokenFile: ./t } }\n'
  const source = (prefix: string) => `sources:
  - id: pull
    reconcile:
      vaultPrefixes:
        - ${prefix}
`

  it('takes a pull-only source with only prefixes, with defaults (mount secret, name upper-cased)', () => {
    const config = parseConfig(VAULT + source('{ prefix: apps/, key: password, vault: ci }'), {})
    expect(config.sources[0]!.reconcile?.vaultPrefixes).toEqual([
      { mount: 'secret', prefix: 'apps/', key: 'password', vault: 'ci', name: '{{ /name | upper }}' },
    ])
    expect(declaredSecrets(config.sources[0]!)).toEqual([])
    expect(configSummary(config).sources[0]?.reconcile?.vaultPrefixes).toEqual([
      'vaultKv secret/apps/*#password -> vault ci name {{ /name | upper }}',
    ])
  })

  it('requires vault:, a valid RWX vault name and a key', () => {
    expect(problemsOf(source('{ prefix: apps/, key: password, vault: ci }')).join('\n')).toContain(
      'vault: required',
    )
    expect(problemsOf(VAULT + source('{ prefix: apps/, key: password, vault: "c i" }')).join('\n')).toMatch(
      /vaultPrefixes\[0\]\.vault: must match/,
    )
    expect(problemsOf(VAULT + source('{ prefix: apps/, vault: ci }')).join('\n')).toMatch(
      /vaultPrefixes\[0\]\.key/,
    )
  })
})
