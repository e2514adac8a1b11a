import type { JWTPayload } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import {
  generateSigningKey,
  makeJwt,
  makeUnsecuredJwt,
  type SigningKey,
  selfSignedCertificate,
} from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const ISSUER = 'https://issuer.example'
const CLAIMS = { iss: ISSUER, aud: 'vault-relay', sub: 'rotator', jti: 'evt-42', iat: T - 10, exp: T + 600 }
let key: SigningKey
let other: SigningKey

beforeAll(async () => {
  key = await generateSigningKey('ES256', 'k1')
  other = await generateSigningKey('ES256', 'k2')
})

function jwt(options: Record<string, unknown> = {}) {
  const config = { type: 'jwt', issuer: ISSUER, audience: 'vault-relay', algorithms: ['ES256'], ...options }
  return createVerifier(verifySchema.parse({ keys: [key.publicJwk], ...config }), {})
}

function body(token: string, now = NOW) {
  return { headers: {}, body: Buffer.from(token), now }
}

const sign = (claims: JWTPayload = CLAIMS, signer: Pick<SigningKey, 'alg' | 'privateKey' | 'kid'> = key) =>
  makeJwt(claims, signer)

describe('jwt verifier, token in the body', () => {
  it('accepts a token signed by a static JWK; claims are the payload, jti and iat the event id and time', async () => {
    await expect(jwt().verify(body(await sign()))).resolves.toEqual({
      payload: CLAIMS,
      eventId: 'evt-42',
      eventTime: (T - 10) * 1000,
      keyId: expect.stringMatching(/^(kid:|keys\[)/),
    })
  })

  it('accepts a token verified with a PEM SPKI key and with a PEM X.509 certificate', async () => {
    const token = await sign()
    await expect(jwt({ keys: [key.publicPem] }).verify(body(token))).resolves.toMatchObject({
      eventId: 'evt-42',
    })
    const cert = selfSignedCertificate(key)
    await expect(jwt({ keys: [cert] }).verify(body(token))).resolves.toMatchObject({ eventId: 'evt-42' })
  })

  it('refuses a token whose claims were changed after signing', async () => {
    const [h, , s] = (await sign()).split('.')
    const forged = Buffer.from(JSON.stringify({ ...CLAIMS, sub: 'admin' })).toString('base64url')
    await expect(jwt().verify(body(`${h}.${forged}.${s}`))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'no key verified the token',
    })
  })

  it('refuses a token signed by a key that is not configured', async () => {
    for (const signer of [other, { ...other, kid: 'k1' }]) {
      await expect(jwt().verify(body(await sign(CLAIMS, signer)))).rejects.toMatchObject({
        code: 'ERR_TOKEN_INVALID',
      })
    }
  })

  it('accepts tokens from either of two keys during rotation, choosing by kid or trying each', async () => {
    const byKid = jwt({ keys: [key.publicJwk, other.publicJwk] })
    await expect(byKid.verify(body(await sign(CLAIMS, other)))).resolves.toMatchObject({
      eventId: 'evt-42',
      keyId: `kid:${other.publicJwk.kid}`,
    })
    await expect(byKid.verify(body(await sign(CLAIMS, key)))).resolves.toMatchObject({ eventId: 'evt-42' })
    const pems = jwt({ keys: [key.publicPem, other.publicPem] })
    const noKid = { alg: 'ES256', privateKey: other.privateKey }
    await expect(pems.verify(body(await makeJwt(CLAIMS, noKid)))).resolves.toMatchObject({
      eventId: 'evt-42',
      keyId: 'keys[1]',
    })
  })

  it('refuses an expired token and a token older than maxTokenAge as stale', async () => {
    const expired = await sign({ ...CLAIMS, exp: T - 31 })
    await expect(jwt().verify(body(expired))).rejects.toMatchObject({ code: 'ERR_TIMESTAMP_STALE' })
    await expect(jwt().verify(body(await sign({ ...CLAIMS, exp: T - 29 })))).resolves.toBeDefined()
    const old = await sign({ ...CLAIMS, iat: T - 400 })
    await expect(jwt({ maxTokenAge: '5m' }).verify(body(old))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
    })
    await expect(jwt({ maxTokenAge: 600 }).verify(body(old))).resolves.toBeDefined()
  })

  it('requires iat when maxTokenAge is set', async () => {
    const { iat: _, ...noIat } = CLAIMS
    await expect(jwt({ maxTokenAge: 300 }).verify(body(await sign(noIat)))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
      message: 'required claim missing',
    })
  })

  it('refuses a token that is not valid yet', async () => {
    await expect(jwt().verify(body(await sign({ ...CLAIMS, nbf: T + 120 })))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
      message: 'token not yet valid',
    })
  })

  it.each([
    ['issuer', { iss: 'https://evil.example' }, 'issuer mismatch'],
    ['audience', { aud: 'someone-else' }, 'audience mismatch'],
    ['configured claim', { sub: 'intruder' }, 'claim mismatch'],
  ])('refuses a token whose %s does not match', async (_name, change, message) => {
    const verifier = jwt({ claims: { sub: 'rotator' } })
    await expect(verifier.verify(body(await sign({ ...CLAIMS, ...change })))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
      status: 401,
      message,
    })
  })

  it('accepts any audience and issuer from a configured list', async () => {
    const verifier = jwt({ issuer: ['https://a.example', ISSUER], audience: ['x', 'vault-relay'] })
    await expect(verifier.verify(body(await sign()))).resolves.toMatchObject({ eventId: 'evt-42' })
  })

  it('refuses alg none', async () => {
    await expect(jwt().verify(body(makeUnsecuredJwt(CLAIMS)))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'algorithm not allowed',
    })
  })

  it('refuses an algorithm that is not in the list, even with a configured key', async () => {
    const es384 = await generateSigningKey('ES384', 'k384')
    // Without its alg: a JWK naming an alg outside the list is refused when the verifier is created.
    const { alg: _, ...anyAlg } = es384.publicJwk
    const verifier = jwt({ keys: [anyAlg, key.publicJwk] })
    await expect(verifier.verify(body(await sign(CLAIMS, es384)))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'algorithm not allowed',
    })
  })

  it('refuses HS256 keyed with the public key (algorithm confusion)', async () => {
    const rsa = await generateSigningKey('RS256', 'rsa')
    const hmacKey = { alg: 'HS256', privateKey: new TextEncoder().encode(rsa.publicPem) }
    const token = await makeJwt(CLAIMS, hmacKey as unknown as SigningKey)
    const verifier = jwt({ keys: [rsa.publicPem], algorithms: ['RS256', 'HS256'] })
    await expect(verifier.verify(body(token))).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' })
  })

  it.each([
    ['free text', 'not a token'],
    ['JSON', '{"iss":"x"}'],
    ['an empty body', ''],
    ['three segments of garbage', 'a.b.c'],
  ])('refuses %s as a malformed body (400)', async (_name, text) => {
    await expect(jwt().verify(body(text))).rejects.toMatchObject({ code: 'ERR_BODY_INVALID', status: 400 })
  })

  it('refuses a JWE body when no decryption keys are configured', async () => {
    await expect(jwt().verify(body('eyJhbGciOiJkaXIifQ..aaaa.bbbb.cccc'))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
      message: 'encrypted token not expected',
    })
  })

  it('refuses keys it cannot read when created, without quoting them', () => {
    expect(() => jwt({ keys: ['-----BEGIN PUBLIC KEY-----\nsecretish\n-----END PUBLIC KEY-----'] })).toThrow(
      /^jwt: keys\[0\] is not a valid public key$/,
    )
    expect(() => jwt({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AA' }] })).toThrow('keys[0]')
    expect(() => jwt({ maxTokenAge: 'a while' })).toThrow('jwt: maxTokenAge is not a valid duration')
  })
})

describe('jwt verifier, Bearer token in Authorization', () => {
  const payload = { type: 'rotation', value_jwe: 'x' }
  const request = (authorization: string | undefined, text = JSON.stringify(payload)) => ({
    headers: authorization === undefined ? {} : { authorization },
    body: Buffer.from(text),
    now: NOW,
  })

  it('accepts a valid Bearer token; the JSON body is the payload and no event id comes from the token', async () => {
    const verifier = jwt({ in: 'header' })
    await expect(verifier.verify(request(`Bearer ${await sign()}`))).resolves.toEqual({
      payload,
      keyId: expect.stringMatching(/^(kid:|keys\[)/),
    })
    await expect(verifier.verify(request(`bearer ${await sign()}`))).resolves.toEqual({
      payload,
      keyId: expect.stringMatching(/^(kid:|keys\[)/),
    })
  })

  it('refuses a request without Authorization as missing', async () => {
    await expect(jwt({ in: 'header' }).verify(request(undefined))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
    })
  })

  it.each(['Basic abc', 'Bearer', 'Bearer not-a-token', 'Bearer a.b.c'])(
    'refuses %j with 401',
    async (value) => {
      await expect(jwt({ in: 'header' }).verify(request(value))).rejects.toMatchObject({
        code: 'ERR_TOKEN_INVALID',
        status: 401,
      })
    },
  )

  it('refuses a bad token, and a good token with a claim mismatch', async () => {
    const verifier = jwt({ in: 'header', claims: { sub: 'rotator' } })
    await expect(verifier.verify(request(`Bearer ${await sign(CLAIMS, other)}`))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
    })
    const token = await sign({ ...CLAIMS, sub: 'other' })
    await expect(verifier.verify(request(`Bearer ${token}`))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
    })
  })

  it('refuses a body that is not JSON after a valid token', async () => {
    await expect(jwt({ in: 'header' }).verify(request(`Bearer ${await sign()}`, 'x'))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
    })
  })
})
