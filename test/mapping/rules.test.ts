// Rules: matching, value encodings, name checks, duplicates, and every config problem with its path.
import { describe, expect, it } from 'vitest'
import { configSchema, type SourceConfig } from '../../src/config/schema.js'
import { RelayError } from '../../src/errors.js'
import { compileRules, MappingConfigError } from '../../src/mapping/rules.js'

const SECRET = 'sk_live_SENTINEL_51H'

function source(fields: Record<string, unknown>): SourceConfig {
  const config = configSchema.parse({
    sources: [{ id: 'src', verify: { type: 'api-key', header: 'x-key', keys: ['k'] }, ...fields }],
  })
  return config.sources[0]!
}

const rules = (...list: unknown[]) => compileRules(source({ rules: list }))
const secret = (fields: Record<string, unknown> = {}) => ({
  vault: 'payments',
  name: 'API_KEY',
  value: '/v',
  ...fields,
})

function unmappable(run: () => unknown): RelayError {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError)
    expect((err as RelayError).code).toBe('ERR_UNMAPPABLE')
    expect((err as RelayError).status).toBe(422)
    return err as RelayError
  }
  throw new Error('expected ERR_UNMAPPABLE')
}

function problems(fields: Record<string, unknown>): MappingConfigError {
  try {
    compileRules(source(fields))
  } catch (err) {
    expect(err).toBeInstanceOf(MappingConfigError)
    return err as MappingConfigError
  }
  throw new Error('expected MappingConfigError')
}

describe('compileRules: matching', () => {
  it('maps the contract example', () => {
    const m = rules({
      when: { '/type': 'rotation.completed' },
      secrets: [
        {
          vault: 'payments',
          name: '{{ /data/object/name | upper }}',
          value: '/data/object/value',
          description: 'from Stripe event {{ /id }}',
        },
      ],
    })
    const payload = {
      id: 'evt_1',
      type: 'rotation.completed',
      data: { object: { name: 'api_key', value: SECRET } },
    }
    expect(m.map(payload)).toEqual([
      { vault: 'payments', name: 'API_KEY', value: SECRET, description: 'from Stripe event evt_1' },
    ])
    expect(m.map({ ...payload, type: 'rotation.started' })).toEqual([])
  })

  it('requires every when key to match', () => {
    const m = rules({ when: { '/type': 'rotated', '/env': 'prod' }, secrets: [secret()] })
    expect(m.map({ type: 'rotated', env: 'prod', v: 'x' })).toHaveLength(1)
    expect(m.map({ type: 'rotated', env: 'dev', v: 'x' })).toEqual([])
    expect(m.map({ type: 'rotated', v: 'x' })).toEqual([])
  })

  it('matches any value of a list', () => {
    const m = rules({ when: { '/type': ['created', 'rotated'] }, secrets: [secret()] })
    expect(m.map({ type: 'created', v: 'x' })).toHaveLength(1)
    expect(m.map({ type: 'rotated', v: 'x' })).toHaveLength(1)
    expect(m.map({ type: 'deleted', v: 'x' })).toEqual([])
    expect(m.map({ type: ['created'], v: 'x' })).toEqual([])
  })

  it('compares scalars strictly, without type coercion', () => {
    const m = rules({ when: { '/version': 2, '/live': true, '/parent': null }, secrets: [secret()] })
    expect(m.map({ version: 2, live: true, parent: null, v: 'x' })).toHaveLength(1)
    expect(m.map({ version: '2', live: true, parent: null, v: 'x' })).toEqual([])
    expect(m.map({ version: 2, live: 'true', parent: null, v: 'x' })).toEqual([])
    expect(m.map({ version: 2, live: true, v: 'x' })).toEqual([])
  })

  it('compares the first present pointer of a ?? key', () => {
    const m = rules({ when: { '/a/id ?? /b/id ?? /list/0': 'x1' }, secrets: [secret()] })
    expect(m.map({ a: { id: 'x1' }, v: 'x' })).toHaveLength(1)
    expect(m.map({ b: { id: 'x1' }, list: ['other'], v: 'x' })).toHaveLength(1)
    expect(m.map({ a: { id: null }, list: ['x1'], v: 'x' })).toHaveLength(1)
    expect(m.map({ a: { id: 'other' }, b: { id: 'x1' }, v: 'x' })).toEqual([])
    expect(m.map({ v: 'x' })).toEqual([])
  })

  it('never matches an inherited property', () => {
    const m = rules({ when: { '/constructor/name': 'Object' }, secrets: [secret()] })
    expect(m.map(JSON.parse('{"v":"x"}'))).toEqual([])
  })

  it('always matches a rule without when', () => {
    expect(rules({ secrets: [secret()] }).map({ v: 'x' })).toEqual([
      { vault: 'payments', name: 'API_KEY', value: 'x' },
    ])
  })

  it('collects the secrets of every matching rule, in rule order', () => {
    const m = rules(
      { when: { '/type': 'a' }, secrets: [secret({ name: 'ONE' })] },
      { when: { '/type': 'b' }, secrets: [secret({ name: 'SKIPPED' })] },
      { secrets: [secret({ name: 'TWO' }), secret({ vault: 'ops', name: 'THREE' })] },
    )
    expect(m.map({ type: 'a', v: 'x' }).map((s) => `${s.vault}/${s.name}`)).toEqual([
      'payments/ONE',
      'payments/TWO',
      'ops/THREE',
    ])
  })

  it('maps nothing for a source without rules', () => {
    expect(compileRules(source({})).map({ anything: 1 })).toEqual([])
  })
})

describe('compileRules: values', () => {
  it.each([
    ['a string as it is', ' padded "quoted" ', ' padded "quoted" '],
    ['a number as JSON text', 42.5, '42.5'],
    ['a boolean as JSON text', false, 'false'],
    ['an object as JSON text', { user: 'u', password: 'p' }, '{"user":"u","password":"p"}'],
    ['a list as JSON text', [1, 'two'], '[1,"two"]'],
  ])('sends %s', (_, v, expected) => {
    expect(rules({ secrets: [secret()] }).map({ v })).toEqual([
      { vault: 'payments', name: 'API_KEY', value: expected },
    ])
  })

  it.each([
    ['a missing', {}, 'rules[0].secrets[0].value: /data/v is missing'],
    ['a null', { data: { v: null } }, 'rules[0].secrets[0].value: /data/v is null'],
    ['an empty', { data: { v: '' } }, 'rules[0].secrets[0].value: /data/v is an empty string'],
  ])('refuses %s value, naming the pointer', (_, payload, message) => {
    const m = rules({ secrets: [secret({ value: '/data/v' })] })
    expect(unmappable(() => m.map(payload)).message).toBe(message)
  })

  it('reads the whole payload with the empty pointer', () => {
    expect(rules({ secrets: [secret({ value: '' })] }).map('plain text message')[0]).toMatchObject({
      value: 'plain text message',
    })
  })

  it('renders an AWS Secrets Manager reference instead of a value', () => {
    const aws = { secretId: '{{ /resources/0 }}', versionId: '{{ /detail/versionId }}', jsonKey: 'password' }
    const m = rules({ secrets: [secret({ name: 'DB', value: { awsSecretsManager: aws } })] })
    const payload = {
      resources: ['arn:aws:secretsmanager:eu-west-1:1:secret:app/db'],
      detail: { versionId: 'v7' },
    }
    expect(m.map(payload)).toEqual([
      {
        vault: 'payments',
        name: 'DB',
        ref: {
          secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:app/db',
          versionId: 'v7',
          jsonKey: 'password',
        },
      },
    ])
  })

  it('leaves optional reference fields out and refuses an empty secretId', () => {
    const m = rules({ secrets: [secret({ value: { awsSecretsManager: { secretId: '{{ /id }}' } } })] })
    expect(m.map({ id: 'app/db' })[0]).toEqual({
      vault: 'payments',
      name: 'API_KEY',
      ref: { secretId: 'app/db' },
    })
    expect(unmappable(() => m.map({ id: '' })).message).toBe(
      'rules[0].secrets[0].value.awsSecretsManager.secretId: renders empty',
    )
  })

  it('refuses a description whose pointer is missing', () => {
    const m = rules({ secrets: [secret({ description: 'event {{ /id }}' })] })
    expect(unmappable(() => m.map({ v: 'x' })).message).toBe(
      'rules[0].secrets[0].description: /id is missing',
    )
  })
})

describe('compileRules: names', () => {
  it('checks templated names after rendering, naming the field and rule but not the value', () => {
    const m = rules(
      { when: { '/t': 'x' }, secrets: [secret({ name: 'OTHER' })] },
      { secrets: [secret({ vault: '{{ /vault }}', name: '{{ /name }}' })] },
    )
    const bad = unmappable(() => m.map({ vault: 'ok', name: `bad ${SECRET}!`, v: 'x' }))
    expect(bad.message).toBe('rules[1].secrets[0].name: the rendered name does not match ^[A-Za-z0-9_-]+$')
    expect(bad.message).not.toContain(SECRET)
    const badVault = unmappable(() => m.map({ vault: 'a/b', name: 'ok', v: 'x' }))
    expect(badVault.message).toBe(
      'rules[1].secrets[0].vault: the rendered vault does not match ^[A-Za-z0-9_-]+$',
    )
    expect(unmappable(() => m.map({ vault: '', name: 'ok', v: 'x' })).message).toContain(
      '.vault: the rendered',
    )
  })

  it('lets slug turn free text into a valid name', () => {
    const m = rules({ secrets: [secret({ name: '{{ /name | slug | upper }}' })] })
    expect(m.map({ name: 'Stripe live key!', v: 'x' })[0]?.name).toBe('STRIPE-LIVE-KEY')
  })

  it('refuses two values for one vault and name in one event', () => {
    const m = rules(
      { secrets: [secret({ name: '{{ /a }}' })] },
      { when: { '/both': true }, secrets: [secret({ name: '{{ /b }}', value: '/w' })] },
    )
    expect(m.map({ a: 'K1', b: 'K1', v: SECRET, w: 'x' })).toHaveLength(1)
    const err = unmappable(() => m.map({ a: 'K1', b: 'K1', both: true, v: SECRET, w: 'other' }))
    expect(err.message).toBe(
      'rules map two values to vault payments name K1 (rules[0].secrets[0] and rules[1].secrets[0])',
    )
    expect(m.map({ a: 'K1', b: 'K2', both: true, v: 'x', w: 'y' })).toHaveLength(2)
  })
})

describe('compileRules: config problems', () => {
  it('collects every problem with its path relative to the source', () => {
    const err = problems({
      rules: [
        {
          when: { type: 'x', '/ok': { nested: true }, '/list': [], '/a~2': 'y' },
          secrets: [
            secret({ vault: 'my vault', name: '{{ /n | shout }}', value: 'data/v' }),
            secret({
              description: '{{ /id',
              value: { awsSecretsManager: { secretId: '{{ id }}', jsonKey: '{{ /k' } },
            }),
          ],
        },
        { secrets: [secret({ name: 'bad.name' }), secret(), secret()] },
      ],
      eventId: '{{ /id | nope }}',
      eventTime: 'created',
    })
    expect(err.problems.map((p) => p.path)).toEqual([
      'rules[0].secrets[0].vault',
      'rules[0].secrets[0].name',
      'rules[0].secrets[0].value',
      'rules[0].secrets[1].description',
      'rules[0].secrets[1].value.awsSecretsManager.secretId',
      'rules[0].secrets[1].value.awsSecretsManager.jsonKey',
      'rules[0].when["type"]',
      'rules[0].when["/ok"]',
      'rules[0].when["/list"]',
      'rules[0].when["/a~2"]',
      'rules[1].secrets[0].name',
      'rules[1].secrets[2]',
      'eventId',
      'eventTime',
    ])
    const byPath = new Map(err.problems.map((p) => [p.path, p.message]))
    expect(byPath.get('rules[0].secrets[0].vault')).toBe('vault "my vault" must match ^[A-Za-z0-9_-]+$')
    expect(byPath.get('rules[0].secrets[0].name')).toMatch(/unknown filter "shout"/)
    expect(byPath.get('rules[0].secrets[0].value')).toMatch(/invalid JSON Pointer "data\/v"/)
    expect(byPath.get('rules[0].when["/ok"]')).toMatch(
      /must be a string, number, boolean, null or a non-empty list/,
    )
    expect(byPath.get('rules[1].secrets[2]')).toBe(
      'maps vault payments name API_KEY again (as rules[1].secrets[1])',
    )
    expect(err.message).toMatch(/^invalid mapping: rules\[0\]\.secrets\[0\]\.vault: vault "my vault"/)
  })

  it('accepts templated names that are not checked until they render', () => {
    expect(() =>
      rules({ secrets: [secret({ vault: 'v-{{ /x }}', name: '{{ /y | lower }}' })] }),
    ).not.toThrow()
  })
})

describe('compileRules: event id and time', () => {
  it('has no eventId or eventTime when the source does not configure them', () => {
    const m = rules({ secrets: [secret()] })
    expect(m.eventId).toBeUndefined()
    expect(m.eventTime).toBeUndefined()
  })

  it('renders the eventId template and refuses a missing or empty one', () => {
    const m = compileRules(source({ eventId: '{{ /source }}:{{ /id }}' }))
    expect(m.eventId?.({ source: 'aws', id: 42 })).toBe('aws:42')
    expect(unmappable(() => m.eventId?.({ source: 'aws' })).message).toBe('eventId: /id is missing')
    const bare = compileRules(source({ eventId: '{{ /id }}' }))
    expect(unmappable(() => bare.eventId?.({ id: '' })).message).toBe('eventId: renders empty')
  })

  it.each([
    ['epoch seconds', 1_893_456_000, 1_893_456_000_000],
    ['fractional epoch seconds', 1_893_456_000.25, 1_893_456_000_250],
    ['epoch seconds as a string', '1893456000', 1_893_456_000_000],
    ['RFC 3339 UTC', '2030-01-01T00:00:00Z', 1_893_456_000_000],
    ['RFC 3339 with fraction', '2030-01-01T00:00:00.123456Z', 1_893_456_000_123],
    ['RFC 3339 with offset', '2030-01-01T01:30:00+01:30', 1_893_456_000_000],
    ['RFC 3339 lower case', '2030-01-01t00:00:00z', 1_893_456_000_000],
    ['a leap second', '2016-12-31T23:59:60Z', Date.UTC(2016, 11, 31, 23, 59, 59)],
  ])('reads %s as epoch milliseconds', (_, time, ms) => {
    expect(compileRules(source({ eventTime: '/t' })).eventTime?.({ t: time })).toBe(ms)
  })

  it.each([
    ['missing', {}, 'eventTime: /t is missing'],
    ['not a date', { t: 'yesterday' }, 'eventTime: /t is a string, not epoch seconds or an RFC 3339 time'],
    ['an impossible date', { t: '2030-02-30T00:00:00Z' }, 'eventTime: /t is a string, not epoch'],
    ['without a zone', { t: '2030-01-01T00:00:00' }, 'eventTime: /t is a string, not epoch'],
    ['negative', { t: -5 }, 'eventTime: /t is a number, not epoch'],
    ['an object', { t: { s: 1 } }, 'eventTime: /t is an object, not epoch'],
  ])('refuses an event time that is %s', (_, payload, message) => {
    const m = compileRules(source({ eventTime: '/t' }))
    expect(unmappable(() => m.eventTime?.(payload)).message).toContain(message)
  })
})
