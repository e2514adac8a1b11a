// gcpSecretManager value references rendered per payload, and rules that only note a provider's notice.
import { describe, expect, it } from 'vitest'
import { configSchema, type SourceConfig } from '../../src/config/schema.js'
import { RelayError } from '../../src/errors.js'
import { compileRules } from '../../src/mapping/rules.js'

function source(rules: unknown[]): SourceConfig {
  return configSchema.parse({
    sources: [{ id: 'gcp', verify: { type: 'api-key', header: 'x-key', keys: ['k'] }, rules }],
  }).sources[0]!
}

const GCP = {
  gcpSecretManager: {
    secret: '{{ /message/attributes/secretId }}',
    version: '{{ /message/attributes/versionId ?? /message/data/name }}',
    alias: 'latest',
  },
}
const event = (attributes: Record<string, string>, data: unknown = {}) => ({ message: { attributes, data } })
const ADD = { '/message/attributes/eventType': ['SECRET_VERSION_ADD', 'SECRET_VERSION_ENABLE'] }

describe('gcpSecretManager references', () => {
  const rules = compileRules(source([{ when: ADD, secrets: [{ vault: 'v', name: 'DB', value: GCP }] }]))

  it('takes the version number from a version name, the secret from the same name', () => {
    const secretId = 'projects/demo-project/secrets/db'
    const byName = event(
      { eventType: 'SECRET_VERSION_ADD', secretId },
      { name: 'projects/123/secrets/db/versions/7' },
    )
    expect(rules.map(byName)).toEqual([
      {
        vault: 'v',
        name: 'DB',
        ref: { store: 'gcp', secret: 'projects/123/secrets/db', version: '7', alias: 'latest' },
      },
    ])
    const byNumber = event({ eventType: 'SECRET_VERSION_ENABLE', secretId, versionId: '3' })
    expect(rules.map(byNumber)[0]).toMatchObject({ ref: { secret: secretId, version: '3' } })
  })

  it('refuses a version of another secret, a non-number, and a secret that is no secret name (422)', () => {
    const other = event({
      eventType: 'SECRET_VERSION_ADD',
      secretId: 'projects/p/secrets/db',
      versionId: 'projects/p/secrets/x/versions/1',
    })
    const bad = event({
      eventType: 'SECRET_VERSION_ADD',
      secretId: 'projects/p/secrets/db',
      versionId: 'latest',
    })
    const notSecret = event({ eventType: 'SECRET_VERSION_ADD', secretId: 'db', versionId: '1' })
    for (const payload of [other, bad, notSecret]) {
      const err = (() => {
        try {
          rules.map(payload)
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(RelayError)
      expect((err as RelayError).status).toBe(422)
    }
  })
})

describe('notice rules', () => {
  const rules = compileRules(
    source([
      { when: ADD, secrets: [{ vault: 'v', name: 'DB', value: GCP }] },
      { when: { '/message/attributes/eventType': 'SECRET_ROTATE' }, notice: 'rotate-reminder' },
    ]),
  )

  it('a matching notice rule maps no secret and names its kind', () => {
    const rotate = event({ eventType: 'SECRET_ROTATE', secretId: 'projects/p/secrets/db' })
    expect(rules.mapWithRules(rotate)).toEqual({ secrets: [], rules: [], notices: ['rotate-reminder'] })
    const disable = event({ eventType: 'SECRET_VERSION_DISABLE', secretId: 'projects/p/secrets/db' })
    expect(rules.mapWithRules(disable)).toEqual({ secrets: [], rules: [], notices: [] })
  })

  it('a rule needs secrets or a notice, and a notice kind is a short fixed word', () => {
    expect(() => source([{ when: {} }])).toThrow(/secrets/)
    expect(() => source([{ notice: 'Has Spaces' }])).toThrow(/notice/)
    expect(() => source([{ notice: '{{ /x }}' }])).toThrow(/notice/)
  })
})

describe('gcp settings', () => {
  it('an endpoint is https, or http on loopback only', () => {
    const parse = (endpoint: string) => configSchema.safeParse({ gcp: { endpoint } }).success
    expect(parse('https://secretmanager.example.internal')).toBe(true)
    expect(parse('http://127.0.0.1:8085')).toBe(true)
    expect(parse('http://secretmanager.example.internal')).toBe(false)
  })
})
