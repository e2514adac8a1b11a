// The vault: connection block: its defaults, its auth methods, and that rules fetching from Vault require it.
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { valueKeyOf, valueRefSummary, valueStoresUsed } from '../../src/config/schema.js'
import { configProblems } from '../support/config-problems.js'

const parse = (text: string) => parseConfigText(text, {}, 'config', {})
const problems = (text: string) => configProblems(() => parse(text))

const source = `
sources:
  - id: vault-hook
    verify: { type: api-key, header: x-key, keys: [k] }
    rules:
      - secrets:
          - { vault: production, name: DB_PASSWORD, value: { vaultDatabase: { role: app, key: password } } }
`

describe('vault: config', () => {
  it('Kubernetes auth gets its mount and the pod token path by default; timeouts too', () => {
    const config = parse(
      'vault: { address: "https://vault:8200", auth: { method: kubernetes, role: relay } }',
    )
    expect(config.vault).toEqual({
      address: 'https://vault:8200',
      connectTimeoutMs: 5000,
      requestTimeoutMs: 10000,
      events: { enabled: false },
      auth: {
        method: 'kubernetes',
        role: 'relay',
        mount: 'kubernetes',
        tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      },
    })
  })

  it('AppRole needs exactly one of secretId and secretIdFile', () => {
    expect(problems('vault: { address: "https://v", auth: { method: approle, roleId: r } }')).toEqual([
      'vault.auth.secretId: required: one of secretId or secretIdFile',
    ])
    expect(
      parse('vault: { address: "https://v", auth: { method: approle, roleId: r, secretIdFile: /s } }').vault
        ?.auth,
    ).toEqual({ method: 'approle', roleId: 'r', secretIdFile: '/s', mount: 'approle' })
  })

  it('an unknown auth method or key is refused', () => {
    expect(problems('vault: { address: "https://v", auth: { method: userpass } }').join()).toMatch(
      /vault\.auth/,
    )
    expect(
      problems('vault: { address: "https://v", token: x, auth: { method: token, tokenFile: /t } }').join(),
    ).toMatch(/vault/)
  })

  it('rules that fetch from Vault require the vault: block', () => {
    expect(problems(source)).toEqual([
      'vault: required: rules or reconcile.secrets fetch values from Vault (vaultKv, vaultDatabase)',
    ])
    const config = parse(`${source}\nvault: { address: "https://v", auth: { method: token, tokenFile: /t } }`)
    expect(config.sources[0]?.rules[0]?.secrets[0]?.value).toEqual({
      vaultDatabase: { mount: 'database', role: 'app', key: 'password' },
    })
  })

  it('a pull-only source reconciling Vault secrets requires the vault: block too', () => {
    const pull = `
sources:
  - id: vault-pull
    reconcile:
      secrets:
        - { vault: production, name: DB_PASSWORD, value: { vaultDatabase: { role: app, key: password } } }
        - { vault: production, name: API_KEY, value: { vaultKv: { path: apps/api, key: token } } }
`
    expect(problems(pull)).toEqual([
      'vault: required: rules or reconcile.secrets fetch values from Vault (vaultKv, vaultDatabase)',
    ])
    const config = parse(`${pull}\nvault: { address: "https://v", auth: { method: token, tokenFile: /t } }`)
    expect(config.sources[0]?.verify).toBeUndefined()
    expect(valueStoresUsed(config)).toEqual(new Set(['vault']))
  })
})

describe('Vault references by name', () => {
  it('the admin API names the rule key each came from; check summarizes where, never a value', () => {
    expect(valueKeyOf({ store: 'vault', engine: 'kv', mount: 'secret', path: 'a', key: 'k' })).toBe('vaultKv')
    expect(valueKeyOf({ store: 'vault', engine: 'database', mount: 'db', role: 'r', key: 'password' })).toBe(
      'vaultDatabase',
    )
    expect(valueKeyOf({ secretId: 'app/db' })).toBe('awsSecretsManager')
    expect(valueRefSummary({ vaultKv: { mount: 'secret', path: 'apps/db', key: 'password' } })).toBe(
      'vaultKv secret/apps/db#password',
    )
    expect(valueRefSummary({ vaultDatabase: { mount: 'database', role: 'app', key: 'username' } })).toBe(
      'vaultDatabase database/static-creds/app#username',
    )
    const config = parse(`${source}\nvault: { address: "https://v", auth: { method: token, tokenFile: /t } }`)
    expect(valueStoresUsed(config)).toEqual(new Set(['vault']))
  })
})
