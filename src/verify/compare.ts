// Shared pieces of every verifier: constant-time comparison, digests, strict decoding and safe JSON bodies.
import { isUtf8 } from 'node:buffer'
import { createHash, timingSafeEqual } from 'node:crypto'
import { RelayError } from '../errors.js'

/** SHA-256 of `data` (UTF-8 for strings). */
export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

/** SHA-256 of `data` as lower-case hex, the relay's fallback event id. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Constant-time equality of two byte strings that must be the same length to match (MACs, digests):
 * a length mismatch is false at once, which only reveals the length of a public algorithm's output.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Constant-time equality of two secrets of any length: compares their SHA-256 digests, so neither the
 * content nor the length of the expected value leaks through timing.
 */
export function secretEqual(given: string | Uint8Array, expected: string | Uint8Array): boolean {
  return timingSafeEqual(sha256(given), sha256(expected))
}

/** True when `given` equals any of `expected`; every candidate is compared, so timing shows no index. */
export function secretEqualsAny(
  given: string | Uint8Array,
  expected: readonly (string | Uint8Array)[],
): boolean {
  return secretIndexOf(given, expected) >= 0
}

/** The index of the first of `expected` that `given` equals, or -1; every candidate is compared. */
export function secretIndexOf(
  given: string | Uint8Array,
  expected: readonly (string | Uint8Array)[],
): number {
  const digest = sha256(given)
  let found = -1
  expected.forEach((candidate, i) => {
    if (timingSafeEqual(digest, sha256(candidate)) && found < 0) found = i
  })
  return found
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

/** Decodes hex (either case), or undefined when `text` is not hex. */
export function decodeHex(text: string): Buffer | undefined {
  return HEX.test(text) ? Buffer.from(text, 'hex') : undefined
}

/** Decodes standard or URL-safe base64 (padding optional), or undefined when `text` is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, 'base64')
  return bytes.length > 0 ? bytes : undefined
}

/** True when the signed unix timestamp (seconds) is within ± `toleranceSeconds` of `now` (ms). */
export function withinTolerance(timestampSeconds: number, now: number, toleranceSeconds: number): boolean {
  return Math.abs(now - timestampSeconds * 1000) <= toleranceSeconds * 1000
}

/**
 * Parses a request body as JSON. Invalid UTF-8, an empty body or bad JSON is ERR_BODY_INVALID; the error
 * never quotes the body.
 */
export function parseJsonBody(body: Uint8Array): unknown {
  try {
    if (!isUtf8(body)) throw new Error('not UTF-8')
    // A leading byte order mark is not JSON; skip it as a UTF-8 decoder does.
    const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0
    return JSON.parse(
      Buffer.from(body.buffer, body.byteOffset + start, body.byteLength - start).toString('utf8'),
    )
  } catch {
    throw new RelayError('ERR_BODY_INVALID', 'body is not valid JSON')
  }
}

/** Reads `payload[key]` when the payload is a plain object, else undefined. */
export function field(payload: unknown, key: string): unknown {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined
  return Object.hasOwn(payload, key) ? (payload as Record<string, unknown>)[key] : undefined
}

/** Seconds since the epoch (a finite number) as epoch milliseconds, or undefined. */
export function secondsToMs(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1000 : undefined
}
