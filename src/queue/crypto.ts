// Encryption of queued values (AES-256-GCM) and their keyed fingerprints; the key file for SQLite.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  randomFillSync,
} from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { makePrivateDir } from './private-files.js'

const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES
/** IVs drawn per refill of the pool: one CSPRNG call per 256 seals instead of one each. */
const IVS_PER_POOL = 256

/**
 * Random 96-bit GCM nonces from a pool the CSPRNG refills, each byte handed out once (as Node's own
 * randomUUID does): the same randomness as a call per nonce, without a system call per seal.
 */
function createIvSource(): () => Buffer {
  const pool = Buffer.alloc(IV_BYTES * IVS_PER_POOL)
  let next = pool.length
  return () => {
    if (next === pool.length) {
      randomFillSync(pool)
      next = 0
    }
    const iv = pool.subarray(next, next + IV_BYTES)
    next += IV_BYTES
    return iv
  }
}

/** Seals values for the queue and fingerprints them; holds the only copy of the key. */
export interface Sealer {
  /** Encrypts `value`; `aad` binds the ciphertext to where it is stored (vault and name). */
  seal(value: string, aad: string): Buffer
  /** Decrypts what `seal` made with the same `aad`; throws if it was altered. */
  open(sealed: Buffer, aad: string): string
  /** A keyed, non-reversible fingerprint: tells two values apart without revealing either. */
  fingerprint(value: string): string
}

/** Parses a base64 key of exactly 32 bytes. The message never quotes the key. */
export function parseKey(base64: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64')
  if (key.length !== 32) throw new Error('encryptionKey must be base64 of exactly 32 bytes')
  return key
}

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes')
  const encKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'vault-relay value encryption', 32))
  const macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'vault-relay value fingerprint', 32))
  const nextIv = createIvSource()
  return {
    seal(value, aad) {
      const iv = nextIv()
      const cipher = createCipheriv('aes-256-gcm', encKey, iv)
      cipher.setAAD(Buffer.from(aad, 'utf8'))
      // GCM is a stream mode: update gives every byte of ciphertext and final() none.
      const body = cipher.update(value, 'utf8')
      cipher.final()
      const sealed = Buffer.allocUnsafe(HEADER_BYTES + body.length)
      sealed[0] = VERSION
      iv.copy(sealed, 1)
      cipher.getAuthTag().copy(sealed, 1 + IV_BYTES)
      body.copy(sealed, HEADER_BYTES)
      return sealed
    },
    open(sealed, aad) {
      if (sealed.length < HEADER_BYTES || sealed[0] !== VERSION) {
        throw new Error('sealed value has an unknown format')
      }
      const iv = sealed.subarray(1, 1 + IV_BYTES)
      const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES)
      const decipher = createDecipheriv('aes-256-gcm', encKey, iv)
      decipher.setAAD(Buffer.from(aad, 'utf8'))
      decipher.setAuthTag(tag)
      return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]).toString(
        'utf8',
      )
    },
    fingerprint(value) {
      return createHmac('sha256', macKey).update(value, 'utf8').digest('base64url').slice(0, 22)
    },
  }
}

/**
 * Reads the key kept beside a SQLite database, or makes one (mode 0600, its directory 0700) when there is none.
 * Returns whether it was created, so the caller can warn that the key lives next to the data.
 */
export function loadOrCreateKeyFile(path: string): { key: Buffer; created: boolean } {
  if (existsSync(path)) return { key: parseKey(readFileSync(path, 'utf8')), created: false }
  makePrivateDir(dirname(path))
  const key = randomBytes(32)
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(path, 0o600)
  return { key, created: true }
}

/** The associated data a value is sealed with: it binds the ciphertext to its vault and name. */
export function valueAad(vault: string, name: string): string {
  return `${vault}/${name}`
}
