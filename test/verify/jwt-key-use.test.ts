import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { generateEncryptionKey, generateSigningKey, makeJwt, type SigningKey } from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const ISSUER = 'https://issuer.example'
const CLAIMS = { iss: ISSUER, aud: 'vault-relay', jti: 'e1', iat: T - 10, exp: T + 600 }
let key: SigningKey

beforeAll(async () => {
  key = await generateSigningKey('ES256', 'k1')
})

function jwt(keys: unknown[], options: Record<string, unknown> = {}) {
  const config = {
    type: 'jwt',
    issuer: ISSUER,
    audience: 'vault-relay',
    algorithms: ['ES256'],
    keys,
    ...options,
  }
  return createVerifier(verifySchema.parse(config), {})
}

describe('configured JWKs follow jose key-selection rules (use, key_ops, alg)', () => {
  it.each([
    ['key_ops without verify', { key_ops: ['encrypt'] }, /keys\[0\].*key_ops/],
    ['key_ops that is not a list', { key_ops: null }, /keys\[0\].*key_ops/],
    ['an alg that is no JWS algorithm', { alg: 'nonsense' }, /keys\[0\].*alg/],
    ['an alg for another key type', { alg: 'RS256' }, /keys\[0\].*alg/],
    ['an alg for another curve', { alg: 'ES384' }, /keys\[0\].*alg/],
  ])('refuses a signing JWK with %s when the verifier is created', (_name, change, message) => {
    expect(() => jwt([{ ...key.publicJwk, ...change }], { algorithms: ['ES256', 'ES384', 'RS256'] })).toThrow(
      message,
    )
  })

  it('refuses a JWK whose alg is not in algorithms, naming the key and not its material', () => {
    let thrown: unknown
    try {
      jwt([{ ...key.publicJwk, alg: 'ES256' }], { algorithms: ['RS256'] })
    } catch (err) {
      thrown = err
    }
    expect(String(thrown)).toMatch(/keys\[0\].*alg ES256 is not in algorithms/)
    expect(String(thrown)).not.toContain(String(key.publicJwk.x))
  })

  it('still accepts a JWK whose key_ops include verify, and one without key_ops or alg', async () => {
    const token = await makeJwt(CLAIMS, key)
    const input = { headers: {}, body: Buffer.from(token), now: NOW }
    const { alg: _, ...noAlg } = key.publicJwk
    for (const jwk of [{ ...key.publicJwk, key_ops: ['verify'] }, noAlg]) {
      await expect(jwt([jwk]).verify(input)).resolves.toMatchObject({ eventId: 'e1' })
    }
  })

  it('refuses a decryption JWK whose key_ops cannot decrypt or whose alg is not a JWE algorithm', async () => {
    const { privateJwk } = await generateEncryptionKey()
    for (const change of [{ key_ops: ['sign'] }, { alg: 'ES256' }]) {
      expect(() => jwt([key.publicJwk], { decryptionKeys: [{ ...privateJwk, ...change }] })).toThrow(
        /decryptionKeys\[0\]/,
      )
    }
    expect(() =>
      jwt([key.publicJwk], { decryptionKeys: [{ ...privateJwk, key_ops: ['deriveBits'] }] }),
    ).not.toThrow()
  })
})
