// Value encryption for the queue: sealing binds to where a value goes, fingerprints are keyed, keys are strict.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSealer, loadOrCreateKeyFile, parseKey } from '../../src/queue/crypto.js'

const key = randomBytes(32)
const sealer = createSealer(key)

describe('sealer', () => {
  it('opens what it sealed', () => {
    const value = 'sk_live_ünïcode_🔑'
    expect(sealer.open(sealer.seal(value, 'payments/API_KEY'), 'payments/API_KEY')).toBe(value)
  })

  it('never puts the plaintext in the sealed bytes, and seals the same value differently each time', () => {
    const value = 'a-very-recognisable-secret-value'
    const one = sealer.seal(value, 'v/A')
    const two = sealer.seal(value, 'v/A')
    expect(one.includes(Buffer.from(value))).toBe(false)
    expect(one.equals(two)).toBe(false)
  })

  it('draws a fresh nonce for every seal, across refills of its nonce pool', () => {
    const ivs = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const box = sealer.seal(`v${i}`, 'v/A')
      ivs.add(box.subarray(1, 13).toString('hex'))
      expect(sealer.open(box, 'v/A')).toBe(`v${i}`)
    }
    expect(ivs.size).toBe(1000)
  })

  it('refuses to open a value under another vault or name', () => {
    const box = sealer.seal('x', 'payments/A')
    expect(() => sealer.open(box, 'payments/B')).toThrow()
  })

  it('refuses to open an altered value', () => {
    const box = sealer.seal('x', 'v/A')
    box[box.length - 1] = box[box.length - 1]! ^ 1
    expect(() => sealer.open(box, 'v/A')).toThrow()
  })

  it('refuses to open with another key', () => {
    const box = sealer.seal('x', 'v/A')
    expect(() => createSealer(randomBytes(32)).open(box, 'v/A')).toThrow()
  })

  it('refuses a sealed value of an unknown format', () => {
    const box = sealer.seal('x', 'v/A')
    box[0] = 2
    expect(() => sealer.open(box, 'v/A')).toThrow(/unknown format/)
    expect(() => sealer.open(Buffer.alloc(10), 'v/A')).toThrow(/unknown format/)
  })

  it('fingerprints values stably, tells them apart, and depends on the key', () => {
    const fp = sealer.fingerprint('value-1')
    expect(fp).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(sealer.fingerprint('value-1')).toBe(fp)
    expect(sealer.fingerprint('value-2')).not.toBe(fp)
    expect(createSealer(randomBytes(32)).fingerprint('value-1')).not.toBe(fp)
    expect(fp).not.toContain('value')
  })

  it('needs a 32-byte key', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(/32 bytes/)
  })
})

describe('parseKey', () => {
  it('reads base64 of exactly 32 bytes, ignoring surrounding whitespace', () => {
    expect(parseKey(` ${key.toString('base64')}\n`).equals(key)).toBe(true)
  })

  it('refuses another length without quoting the key', () => {
    for (const bad of [randomBytes(31), randomBytes(33), Buffer.alloc(0)]) {
      const text = bad.toString('base64')
      let message = ''
      try {
        parseKey(text)
      } catch (err) {
        message = (err as Error).message
      }
      expect(message).toMatch(/exactly 32 bytes/)
      if (text !== '') expect(message).not.toContain(text)
    }
  })
})

describe('loadOrCreateKeyFile', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-key-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates a key readable only by its owner, in a new directory, and reads it back later', () => {
    const path = join(dir, 'data', 'relay.db.key')
    const made = loadOrCreateKeyFile(path)
    expect(made.created).toBe(true)
    expect(made.key).toHaveLength(32)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(parseKey(readFileSync(path, 'utf8')).equals(made.key)).toBe(true)
    const again = loadOrCreateKeyFile(path)
    expect(again.created).toBe(false)
    expect(again.key.equals(made.key)).toBe(true)
  })

  it('refuses a key file that does not hold a valid key', () => {
    const path = join(dir, 'relay.db.key')
    writeFileSync(path, 'not-a-key\n')
    expect(() => loadOrCreateKeyFile(path)).toThrow(/exactly 32 bytes/)
  })
})
