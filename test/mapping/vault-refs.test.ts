// vaultKv and vaultDatabase rule values: rendered per payload into Vault references, versions checked.
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { RelayError } from '../../src/errors.js'
import { compileRules, MappingConfigError } from '../../src/mapping/rules.js'

const VAULT = { address: 'https://vault.example.com:8200', auth: { method: 'token', tokenFile: '/t' } }

function rules(value: unknown) {
  const config = configSchema.parse({
    vault: VAULT,
    sources: [
      {
        id: 'src',
        verify: { type: 'api-key', header: 'x-key', keys: ['k'] },
        rules: [{ secrets: [{ vault: 'production', name: 'DB_PASSWORD', value }] }],
      },
    ],
  })
  return compileRules(config.sources[0]!)
}

function unmappable(run: () => unknown): string {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError)
    expect((err as RelayError).code).toBe('ERR_UNMAPPABLE')
    return (err as RelayError).message
  }
  throw new Error('expected ERR_UNMAPPABLE')
}

describe('vaultKv values', () => {
  it('renders mount, path, key and the version from the payload', () => {
    const m = rules({ vaultKv: { path: 'apps/{{ /app }}/db', key: 'password', version: '{{ /version }}' } })
    expect(m.map({ app: 'billing', version: 7 })[0]).toEqual({
      vault: 'production',
      name: 'DB_PASSWORD',
      ref: {
        store: 'vault',
        engine: 'kv',
        mount: 'secret',
        path: 'apps/billing/db',
        key: 'password',
        version: 7,
      },
    })
  })

  it('takes a static version number, and leaves the version out when none is given', () => {
    expect(rules({ vaultKv: { mount: 'kv', path: 'a', key: 'k', version: 3 } }).map({})[0]).toMatchObject({
      ref: { mount: 'kv', version: 3 },
    })
    expect(rules({ vaultKv: { path: 'a', key: 'k' } }).map({})[0]).toEqual({
      vault: 'production',
      name: 'DB_PASSWORD',
      ref: { store: 'vault', engine: 'kv', mount: 'secret', path: 'a', key: 'k' },
    })
  })

  it('a version that renders no positive whole number is a 422 naming the field', () => {
    const m = rules({ vaultKv: { path: 'a', key: 'k', version: '{{ /version }}' } })
    for (const version of ['latest', '0', '-1', '1.5']) {
      expect(unmappable(() => m.map({ version }))).toBe(
        'rules[0].secrets[0].value.vaultKv.version: does not render a KV version (a positive whole number)',
      )
    }
  })

  it('a template that does not compile is a config problem with its path', () => {
    try {
      rules({ vaultKv: { path: '{{ /a', key: 'k' } })
      throw new Error('accepted')
    } catch (err) {
      expect(err).toBeInstanceOf(MappingConfigError)
      expect((err as MappingConfigError).problems[0]?.path).toBe('rules[0].secrets[0].value.vaultKv.path')
    }
  })
})

describe('vaultDatabase values', () => {
  it('renders mount and role; the key is username or password', () => {
    const m = rules({ vaultDatabase: { role: '{{ /role }}', key: 'password' } })
    expect(m.map({ role: 'app-static' })[0]).toMatchObject({
      ref: { store: 'vault', engine: 'database', mount: 'database', role: 'app-static', key: 'password' },
    })
    expect(() => rules({ vaultDatabase: { role: 'r', key: 'token' } })).toThrow()
  })
})
