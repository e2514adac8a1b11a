import { describe, expect, it } from 'vitest'
import {
  bytesEqual,
  decodeBase64,
  decodeHex,
  parseJsonBody,
  secondsToMs,
  secretEqual,
  secretEqualsAny,
  sha256Hex,
  withinTolerance,
} from '../../src/verify/compare.js'

describe('verifier helpers', () => {
  it('compares secrets of any length in constant time, and finds any of several', () => {
    expect(secretEqual('abc', 'abc')).toBe(true)
    expect(secretEqual('abc', 'abcd')).toBe(false)
    expect(secretEqualsAny('b', ['a', 'b', 'c'])).toBe(true)
    expect(secretEqualsAny('d', ['a', 'b', 'c'])).toBe(false)
  })

  it('compares bytes only when lengths agree', () => {
    expect(bytesEqual(Buffer.from([1, 2]), Buffer.from([1, 2]))).toBe(true)
    expect(bytesEqual(Buffer.from([1, 2]), Buffer.from([1, 2, 3]))).toBe(false)
  })

  it('decodes hex of either case and refuses anything else', () => {
    expect(decodeHex('0aFF')).toEqual(Buffer.from([10, 255]))
    for (const bad of ['', 'abc', 'zz', '0x00']) expect(decodeHex(bad)).toBeUndefined()
  })

  it('decodes standard and URL-safe base64 and refuses anything else', () => {
    expect(decodeBase64('+/8=')).toEqual(Buffer.from([251, 255]))
    expect(decodeBase64('-_8')).toEqual(Buffer.from([251, 255]))
    for (const bad of ['', 'a', 'a b', '***', '==']) expect(decodeBase64(bad)).toBeUndefined()
  })

  it('parses JSON bodies and refuses empty, malformed or non-UTF-8 ones with ERR_BODY_INVALID', () => {
    expect(parseJsonBody(Buffer.from('{"a":[1]}'))).toEqual({ a: [1] })
    // a byte order mark is skipped; a view into a larger buffer reads only its own bytes
    expect(parseJsonBody(Buffer.from('\ufeff{"b":"ü"}'))).toEqual({ b: 'ü' })
    expect(parseJsonBody(Buffer.from('xx{"c":2}yy').subarray(2, 9))).toEqual({ c: 2 })
    for (const bad of [Buffer.from(''), Buffer.from('{'), Buffer.from([0x22, 0xff, 0x22])]) {
      expect(() => parseJsonBody(bad)).toThrow(expect.objectContaining({ code: 'ERR_BODY_INVALID' }))
    }
  })

  it('accepts timestamps exactly at the tolerance and refuses one second beyond, both ways', () => {
    expect(withinTolerance(1000, 1_300_000, 300)).toBe(true)
    expect(withinTolerance(1000, 1_301_000, 300)).toBe(false)
    expect(withinTolerance(1000, 700_000, 300)).toBe(true)
    expect(withinTolerance(1000, 699_000, 300)).toBe(false)
  })

  it('converts epoch seconds to ms only for finite non-negative numbers', () => {
    expect(secondsToMs(12)).toBe(12_000)
    for (const bad of ['12', -1, Number.NaN, null]) expect(secondsToMs(bad)).toBeUndefined()
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})
