// Templates: holes, filters, `??` fallbacks, compile errors and render errors that name pointers, never values.
import { describe, expect, it } from 'vitest'
import { RelayError } from '../../src/errors.js'
import {
  compileFallback,
  compileTemplate,
  isStatic,
  slug,
  TemplateSyntaxError,
} from '../../src/mapping/template.js'

const SECRET = 'sk_live_SENTINEL_51H'

function renderError(text: string, payload: unknown, where?: string): RelayError {
  try {
    compileTemplate(text, where)(payload)
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError)
    return err as RelayError
  }
  throw new Error('expected the render to throw')
}

describe('isStatic', () => {
  it('is true only without {{', () => {
    expect(isStatic('payments')).toBe(true)
    expect(isStatic('a }} b')).toBe(true)
    expect(isStatic('{{ /a }}')).toBe(false)
    expect(isStatic('x{{')).toBe(false)
  })
})

describe('compileTemplate', () => {
  it('renders static text as it is', () => {
    expect(compileTemplate('plain text }}')({})).toBe('plain text }}')
  })

  it('fills holes between literal text', () => {
    const t = compileTemplate('from {{ /src }} event {{/id}}!')
    expect(t({ src: 'Stripe', id: 'evt_1' })).toBe('from Stripe event evt_1!')
  })

  it('renders a lone hole without surrounding text', () => {
    expect(compileTemplate('{{ /data/object/name }}')({ data: { object: { name: 'API_KEY' } } })).toBe(
      'API_KEY',
    )
  })

  it('renders numbers and booleans as their JSON text', () => {
    const t = compileTemplate('{{ /n }}-{{ /f }}-{{ /b }}-{{ /arr/1 }}')
    expect(t({ n: 42, f: 1.5, b: true, arr: [0, false] })).toBe('42-1.5-true-false')
  })

  it('applies upper and lower', () => {
    expect(compileTemplate('{{ /x | upper }}')({ x: 'db_Password' })).toBe('DB_PASSWORD')
    expect(compileTemplate('{{ /x | lower }}')({ x: 'DB_Password' })).toBe('db_password')
  })

  it.each([
    ['  Hello, World!! ', 'hello-world'],
    ['Café Crème', 'cafe-creme'],
    ['db_password', 'db_password'],
    ['--a--b--', 'a-b'],
    ['app/db-AbCdEf', 'app-db-abcdef'],
    ['ÀÉÎ ﬁle', 'aei-file'],
    ['日本', ''],
  ])('slugs %j to %j', (input, expected) => {
    expect(slug(input)).toBe(expected)
    expect(compileTemplate('{{ /x | slug }}')({ x: input })).toBe(expected)
  })

  it('applies filters left to right', () => {
    expect(compileTemplate('{{ /x | slug | upper }}')({ x: 'my key.v2' })).toBe('MY-KEY-V2')
    expect(compileTemplate('{{/x|upper|lower}}')({ x: 'AbC' })).toBe('abc')
  })

  it('slugs numbers after rendering them as text', () => {
    expect(compileTemplate('v{{ /n | slug }}')({ n: 1.5 })).toBe('v1-5')
  })

  it.each([
    ['{{ /a', /unclosed "\{\{" at character 1/],
    ['ok {{ /a }} then {{ /b', /unclosed "\{\{" at character 18/],
    ['{{ /a {{ /b }}', /nested "\{\{"/],
    ['{{ /a | shout }}', /unknown filter "shout" \(filters: upper, lower, slug\)/],
    ['{{ /a | constructor }}', /unknown filter "constructor"/],
    ['{{ /a | toString }}', /unknown filter "toString"/],
    ['{{ /a | }}', /empty filter after "\|"/],
    ['{{ a/b }}', /invalid JSON Pointer "a\/b": must be empty or start with "\/"/],
    ['{{ /a~2 }}', /invalid JSON Pointer "\/a~2"/],
  ])('refuses to compile %j', (text, message) => {
    expect(() => compileTemplate(text)).toThrow(TemplateSyntaxError)
    expect(() => compileTemplate(text)).toThrow(message)
  })

  it('names the pointer and the field when a value is missing', () => {
    const err = renderError('{{ /data/name }}', { data: {} }, 'rules[0].secrets[1].name')
    expect(err.code).toBe('ERR_UNMAPPABLE')
    expect(err.status).toBe(422)
    expect(err.message).toBe('rules[0].secrets[1].name: /data/name is missing')
  })

  it('names the pointer, not the value, for an object', () => {
    const err = renderError('x-{{ /data }}', { data: { token: SECRET } })
    expect(err.message).toBe('/data is an object, not a string, number or boolean')
    expect(err.message).not.toContain(SECRET)
  })

  it('names the pointer, not the value, for a list or null', () => {
    const list = renderError('{{ /data | upper }}', { data: [SECRET] })
    expect(list.message).toContain('/data is a list')
    expect(list.message).not.toContain(SECRET)
    expect(renderError('{{ /data }}', { data: null }).message).toContain('/data is null')
  })

  it('does not read inherited properties', () => {
    expect(renderError('{{ /constructor }}', {}).message).toContain('/constructor is missing')
    expect(renderError('{{ /x/length }}', { x: 'abc' }).message).toContain('/x/length is missing')
  })
})

describe('compileTemplate: ?? fallback', () => {
  const ID =
    '{{ /detail/additionalEventData/SecretId ?? /detail/serviceEventDetails/secretId ?? /resources/0 }}'
  const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/db-AbCdEf'

  it.each([
    ['the first pointer', { detail: { additionalEventData: { SecretId: ARN } }, resources: [] }],
    ['the second when the first is missing', { detail: { serviceEventDetails: { secretId: ARN } } }],
    ['the third when the others are missing', { detail: {}, resources: [ARN] }],
    [
      'the third when the others are null',
      { detail: { additionalEventData: { SecretId: null }, serviceEventDetails: null }, resources: [ARN] },
    ],
  ])('reads %s', (_what, payload) => {
    expect(compileTemplate(ID)(payload)).toBe(ARN)
  })

  it('takes the first present pointer even when a later one is present too', () => {
    const t = compileTemplate('{{ /a ?? /b }}')
    expect(t({ a: 'first', b: 'second' })).toBe('first')
  })

  it('counts falsy scalars as present', () => {
    const t = compileTemplate('{{ /a ?? /b }}')
    expect(t({ a: '', b: 'second' })).toBe('')
    expect(t({ a: 0, b: 'second' })).toBe('0')
    expect(t({ a: false, b: 'second' })).toBe('false')
  })

  it('applies filters to the value it took', () => {
    const t = compileTemplate('x-{{/a??/b|upper}}-{{ /c }}')
    expect(t({ b: 'db_pass', c: 'z' })).toBe('x-DB_PASS-z')
  })

  it('names every pointer tried, and the field, when none is present', () => {
    const payload = { detail: { serviceEventDetails: { secretId: null } }, resources: [] }
    const err = renderError(ID, payload, 'rules[0].secrets[0].value.awsSecretsManager.secretId')
    expect(err.code).toBe('ERR_UNMAPPABLE')
    expect(err.status).toBe(422)
    expect(err.message).toBe(
      'rules[0].secrets[0].value.awsSecretsManager.secretId: /detail/additionalEventData/SecretId is missing, ' +
        '/detail/serviceEventDetails/secretId is null and /resources/0 is missing',
    )
  })

  it('names the pointer it took, not the value, when that is not a scalar', () => {
    const err = renderError('{{ /a ?? /b ?? /c }}', { b: { token: SECRET }, c: SECRET })
    expect(err.message).toBe('/b is an object, not a string, number or boolean')
    expect(err.message).not.toContain(SECRET)
  })

  it('never quotes a value in the all-missing error', () => {
    const err = renderError('{{ /a ?? /b }}', { a: null, other: SECRET })
    expect(err.message).toBe('/a is null and /b is missing')
  })

  it.each([
    ['{{ /a ?? }}', /empty pointer beside "\?\?" in "\/a \?\?"/],
    ['{{ ?? /a }}', /empty pointer beside "\?\?"/],
    ['{{ /a ?? ?? /b }}', /empty pointer beside "\?\?"/],
    ['{{ /a ?? b }}', /invalid JSON Pointer "b"/],
  ])('refuses to compile %j', (text, message) => {
    expect(() => compileTemplate(text)).toThrow(TemplateSyntaxError)
    expect(() => compileTemplate(text)).toThrow(message)
  })
})

describe('compileFallback', () => {
  it('reads a lone pointer as it is', () => {
    expect(compileFallback('/a')({ a: null })).toBeNull()
    expect(compileFallback('')({ a: 1 })).toEqual({ a: 1 })
  })

  it('has the semantics of ??: the first present value, else the last one', () => {
    const read = compileFallback('/a ?? /b/0 ?? /c')
    expect(read({ a: { x: 1 }, c: 'c' })).toEqual({ x: 1 })
    expect(read({ a: null, b: ['b'], c: 'c' })).toBe('b')
    expect(read({ b: [], c: 'c' })).toBe('c')
    expect(read({ c: null })).toBeNull()
    expect(read({})).toBeUndefined()
  })
})
