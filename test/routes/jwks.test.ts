import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { type Harness, startHarness } from '../support/app-harness.js'
import { generateEncryptionKey } from '../support/signers.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const source = (id: string, decryptionKeys: unknown[]) => ({
  id,
  verify: {
    type: 'jwt',
    issuer: 'https://op',
    audience: 'relay',
    algorithms: ['ES256'],
    keys: [{ kty: 'oct', k: 'c2VjcmV0' }],
    decryptionKeys,
  },
})

async function jwks(sources: unknown[]) {
  h = await startHarness(stringify({ sources }))
  const res = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toContain('application/jwk-set+json')
  return { text: res.body, keys: (res.json() as { keys: Record<string, unknown>[] }).keys }
}

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public half of each decryption key, in order, once, never a private part', async () => {
    const named = await generateEncryptionKey()
    const pem = await generateEncryptionKey()
    const rsa = await generateKeyPair('RSA-OAEP-256', { extractable: true })
    const rsaJwk = await exportJWK(rsa.privateKey)
    const { keys, text } = await jwks([
      source('a', [{ ...named.privateJwk, kid: 'relay-2030' }, pem.privatePem]),
      source('b', [pem.privatePem, rsaJwk, { kty: 'oct', k: 'c3ltbWV0cmlj' }]),
    ])
    const pemThumbprint = await calculateJwkThumbprint(await exportJWK(pem.publicKey))
    expect(keys.map((k) => [k.kty, k.kid, k.use, k.alg])).toEqual([
      ['EC', 'relay-2030', 'enc', 'ECDH-ES+A256KW'],
      ['EC', pemThumbprint, 'enc', 'ECDH-ES+A256KW'],
      ['RSA', await calculateJwkThumbprint(rsaJwk), 'enc', 'RSA-OAEP-256'],
    ])
    expect(keys[1]).toMatchObject({ x: (await exportJWK(pem.publicKey)).x })
    for (const k of keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k[p]).toBeUndefined()
    for (const secret of [named.privateJwk.d, rsaJwk.d, 'c3ltbWV0cmlj']) expect(text).not.toContain(secret)
  })

  it('is an empty set when no source decrypts', async () => {
    expect((await jwks([])).keys).toEqual([])
  })
})
