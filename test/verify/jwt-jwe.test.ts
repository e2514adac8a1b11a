import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import {
  type EncryptionKey,
  encryptClaims,
  encryptJwt,
  generateEncryptionKey,
  generateSigningKey,
  makeJwt,
  type SigningKey,
} from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const CLAIMS = {
  iss: 'https://operator.example',
  aud: 'vault-relay',
  jti: 'rot-7',
  iat: T - 5,
  exp: T + 300,
  value: 'v',
}
let signing: SigningKey
let stranger: SigningKey
let relay: EncryptionKey
let otherRelay: EncryptionKey

beforeAll(async () => {
  signing = await generateSigningKey('ES256', 'op-1')
  stranger = await generateSigningKey('ES256', 'op-1')
  relay = await generateEncryptionKey()
  otherRelay = await generateEncryptionKey()
})

function jwe(options: Record<string, unknown> = {}) {
  const config = {
    type: 'jwt',
    issuer: 'https://operator.example',
    audience: 'vault-relay',
    algorithms: ['ES256'],
    keys: [signing.publicJwk],
    decryptionKeys: [relay.privateJwk],
    ...options,
  }
  return createVerifier(verifySchema.parse(config), {})
}

const input = (text: string) => ({ headers: {}, body: Buffer.from(text), now: NOW })

describe('jwt verifier, encrypted body', () => {
  it('accepts a signed JWT nested in a JWE (ECDH-ES+A256KW / A256GCM); its claims are the payload', async () => {
    const token = await encryptJwt(await makeJwt(CLAIMS, signing), relay.publicKey)
    await expect(jwe().verify(input(token))).resolves.toEqual({
      payload: CLAIMS,
      eventId: 'rot-7',
      eventTime: (T - 5) * 1000,
      keyId: expect.stringMatching(/^(kid:|keys\[)/),
    })
  })

  it('decrypts with a PEM PKCS#8 key, and with whichever of two keys fits', async () => {
    const token = await encryptJwt(await makeJwt(CLAIMS, signing), relay.publicKey)
    await expect(jwe({ decryptionKeys: [relay.privatePem] }).verify(input(token))).resolves.toBeDefined()
    const both = jwe({ decryptionKeys: [otherRelay.privateJwk, relay.privatePem] })
    await expect(both.verify(input(token))).resolves.toMatchObject({ eventId: 'rot-7' })
  })

  it('refuses a JWE of bare claims, which does not say who sent it', async () => {
    await expect(jwe().verify(input(await encryptClaims(CLAIMS, relay.publicKey)))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'encrypted token does not hold a signed JWT',
    })
  })

  it('refuses a nested JWT signed by an unknown key', async () => {
    const token = await encryptJwt(await makeJwt(CLAIMS, stranger), relay.publicKey)
    await expect(jwe().verify(input(token))).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' })
  })

  it('refuses a JWE made for another recipient, and a tampered JWE', async () => {
    const signed = await makeJwt(CLAIMS, signing)
    await expect(jwe().verify(input(await encryptJwt(signed, otherRelay.publicKey)))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'no key decrypted the token',
    })
    const parts = (await encryptJwt(signed, relay.publicKey)).split('.')
    const ciphertext = parts[3] ?? ''
    parts[3] = (ciphertext[0] === 'A' ? 'B' : 'A') + ciphertext.slice(1)
    await expect(jwe().verify(input(parts.join('.')))).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' })
  })

  it('refuses a key management algorithm that is not allowed', async () => {
    const token = await encryptJwt(await makeJwt(CLAIMS, signing), relay.publicKey)
    await expect(
      jwe({ keyManagementAlgorithms: ['RSA-OAEP-256'] }).verify(input(token)),
    ).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'algorithm not allowed',
    })
  })

  it('checks the claims of the nested token', async () => {
    const token = await encryptJwt(await makeJwt({ ...CLAIMS, exp: T - 60 }, signing), relay.publicKey)
    await expect(jwe().verify(input(token))).rejects.toMatchObject({ code: 'ERR_TIMESTAMP_STALE' })
  })

  it('refuses a plain signed JWT when decryption keys are configured', async () => {
    await expect(jwe().verify(input(await makeJwt(CLAIMS, signing)))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
      message: 'encrypted token required',
    })
  })

  it('refuses a decryption key it cannot read when created', () => {
    expect(() => jwe({ decryptionKeys: [signing.publicJwk] })).toThrow(
      'jwt: decryptionKeys[0] is not a valid private key',
    )
  })
})
