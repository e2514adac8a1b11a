import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { type HmacOptions, hmacSignature } from '../support/signers.js'

const NOW = 1_893_456_000_000
const BODY = JSON.stringify({ action: 'rotated', secret: { name: 'db' } })
const SECRET = 'gh-webhook-secret'
const OLD = 'gh-webhook-secret-old'
const GITHUB = { header: 'X-Hub-Signature-256', prefix: 'sha256=' }

function hmac(options: Record<string, unknown> = {}) {
  return createVerifier(verifySchema.parse({ type: 'hmac', secrets: [SECRET], ...GITHUB, ...options }), {})
}

function input(value: string | undefined, body = BODY, name = 'x-hub-signature-256') {
  return { headers: value === undefined ? {} : { [name]: value }, body: Buffer.from(body), now: NOW }
}

const github = (secret = SECRET, body = BODY) => hmacSignature(secret, body, { prefix: 'sha256=' })

describe('hmac verifier', () => {
  it('accepts a GitHub-style sha256= hex signature; no event id or time of its own', async () => {
    await expect(hmac().verify(input(github()))).resolves.toEqual({
      payload: JSON.parse(BODY),
      keyId: 'secrets[0]',
    })
  })

  it('compares hex without regard to case', async () => {
    const value = `sha256=${github().slice('sha256='.length).toUpperCase()}`
    await expect(hmac().verify(input(value))).resolves.toEqual({
      payload: JSON.parse(BODY),
      keyId: 'secrets[0]',
    })
  })

  it('refuses a tampered body', async () => {
    await expect(hmac().verify(input(github(), BODY.replace('db', 'dc')))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'no signature matched',
    })
  })

  it('refuses a signature made with another secret', async () => {
    await expect(hmac().verify(input(github('other')))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('accepts either of two configured secrets during rotation', async () => {
    const verifier = hmac({ secrets: [SECRET, OLD] })
    await expect(verifier.verify(input(github(OLD)))).resolves.toMatchObject({ keyId: 'secrets[1]' })
    await expect(verifier.verify(input(github(SECRET)))).resolves.toMatchObject({ keyId: 'secrets[0]' })
  })

  it.each<[string, HmacOptions]>([
    ['sha512 in base64', { algorithm: 'sha512', encoding: 'base64' }],
    ['sha1 in base64 (MongoDB Atlas)', { algorithm: 'sha1', encoding: 'base64' }],
    ['sha256 with a base64 key', { keyEncoding: 'base64' }],
  ])('accepts %s', async (_name, options) => {
    const secret = Buffer.from('binary key material').toString('base64')
    const verifier = hmac({ header: 'x-sig', prefix: '', secrets: [secret], ...options })
    const value = hmacSignature(secret, BODY, options)
    await expect(verifier.verify(input(value, BODY, 'x-sig'))).resolves.toEqual({
      payload: JSON.parse(BODY),
      keyId: 'secrets[0]',
    })
  })

  it('refuses a sha1 signature where sha256 is configured', async () => {
    const value = hmacSignature(SECRET, BODY, { algorithm: 'sha1', prefix: 'sha256=' })
    await expect(hmac().verify(input(value))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses a signature without the configured prefix', async () => {
    const value = hmacSignature(SECRET, BODY)
    await expect(hmac().verify(input(value))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'signature prefix missing',
    })
  })

  it('refuses a request without the header as missing', async () => {
    await expect(hmac().verify(input(undefined))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
      message: 'missing x-hub-signature-256 header',
    })
  })

  it.each(['sha256=not-hex', 'sha256=abc', 'sha256='])('refuses a malformed header %j', async (value) => {
    await expect(hmac().verify(input(value))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses a correctly signed body that is not JSON', async () => {
    await expect(hmac().verify(input(github(SECRET, ''), ''))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
    })
  })
})
