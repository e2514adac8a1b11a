// JSON Pointer parsing and lookup, including prototype pollution attempts.
import { describe, expect, it } from 'vitest'
import { compilePointer, getAt, PointerSyntaxError, parsePointer } from '../../src/mapping/pointer.js'

const lookups = {
  getAt: (doc: unknown, p: string) => getAt(doc, parsePointer(p)),
  compilePointer: (doc: unknown, p: string) => compilePointer(p)(doc),
}

describe('parsePointer', () => {
  it('parses the empty pointer as the whole document', () => {
    expect(parsePointer('')).toEqual([])
  })

  it('splits on / and keeps empty tokens', () => {
    expect(parsePointer('/')).toEqual([''])
    expect(parsePointer('/a//b')).toEqual(['a', '', 'b'])
  })

  it('unescapes ~1 to / and ~0 to ~, in that order', () => {
    expect(parsePointer('/a~1b/m~0n')).toEqual(['a/b', 'm~n'])
    expect(parsePointer('/~01')).toEqual(['~1'])
    expect(parsePointer('/~10')).toEqual(['/0'])
  })

  it.each(['a', 'a/b', ' /a', '#/a'])('rejects %j, which does not start with /', (p) => {
    expect(() => parsePointer(p)).toThrow(PointerSyntaxError)
    expect(() => parsePointer(p)).toThrow(/must be empty or start with "\/"/)
  })

  it.each(['/~', '/a~', '/~2', '/a~b/c', '/~~1'])('rejects the invalid escape in %j', (p) => {
    expect(() => parsePointer(p)).toThrow(/"~" must be followed by 0 or 1/)
  })
})

describe.each(Object.entries(lookups))('%s', (_, lookup) => {
  // The example document of RFC 6901 section 5.
  const rfc = JSON.parse(
    '{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\\\j":5,"k\\"l":6," ":7,"m~n":8}',
  )

  it.each([
    ['', rfc],
    ['/foo', ['bar', 'baz']],
    ['/foo/0', 'bar'],
    ['/', 0],
    ['/a~1b', 1],
    ['/c%d', 2],
    ['/e^f', 3],
    ['/g|h', 4],
    ['/i\\j', 5],
    ['/k"l', 6],
    ['/ ', 7],
    ['/m~0n', 8],
  ])('resolves the RFC 6901 example %j', (p, expected) => {
    expect(lookup(rfc, p)).toEqual(expected)
  })

  const doc = { arr: ['a', 'b', { c: null }], n: 5, s: 'abc', f: false }

  it('walks array indices and nested objects', () => {
    expect(lookup(doc, '/arr/1')).toBe('b')
    expect(lookup(doc, '/arr/2/c')).toBeNull()
    expect(lookup(doc, '/f')).toBe(false)
  })

  it.each([
    '/arr/01',
    '/arr/-',
    '/arr/3',
    '/arr/-1',
    '/arr/1.0',
    '/arr/ 1',
    '/arr/1e0',
    '/arr/length',
    '/arr/',
  ])('treats %j as missing', (p) => {
    expect(lookup(doc, p)).toBeUndefined()
  })

  it('does not walk into strings or numbers', () => {
    expect(lookup(doc, '/s/0')).toBeUndefined()
    expect(lookup(doc, '/s/length')).toBeUndefined()
    expect(lookup(doc, '/n/x')).toBeUndefined()
    expect(lookup(doc, '/arr/2/c/x')).toBeUndefined()
    expect(lookup(doc, '/missing/deeper')).toBeUndefined()
  })

  it('walks only plain objects, not buffers, maps or class instances', () => {
    class Box {
      inner = 'x'
    }
    expect(lookup({ b: Buffer.from('ab') }, '/b/0')).toBeUndefined()
    expect(lookup({ m: new Map([['k', 1]]) }, '/m/k')).toBeUndefined()
    expect(lookup({ o: new Box() }, '/o/inner')).toBeUndefined()
    const bare = Object.create(null) as Record<string, unknown>
    bare['k'] = 1
    expect(lookup({ bare }, '/bare/k')).toBe(1)
  })

  it.each([
    '/__proto__',
    '/__proto__/polluted',
    '/constructor',
    '/constructor/prototype',
    '/constructor/prototype/polluted',
    '/toString',
    '/hasOwnProperty',
    '/a/__proto__',
    '/list/constructor',
    '/list/map',
    '/list/__proto__',
  ])('finds nothing inherited at %j', (p) => {
    const payload = JSON.parse('{"a":{"b":1},"list":[1,2]}')
    expect(lookup(payload, p)).toBeUndefined()
  })

  it('reads __proto__ and constructor keys of a parsed payload as plain data and pollutes nothing', () => {
    const payload = JSON.parse(
      '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"x":{"__proto__":[1]}}',
    )
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype)
    expect(lookup(payload, '/__proto__/polluted')).toBe('yes')
    expect(lookup(payload, '/constructor/prototype/polluted')).toBe('yes')
    expect(lookup(payload, '/x/__proto__/0')).toBe(1)
    expect(lookup(payload, '/polluted')).toBeUndefined()
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false)
  })
})
