import type { JWTPayload } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { generateSigningKey, makeJwt, type SigningKey } from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const ISSUER = 'https://issuer.example'
const CLAIMS = { iss: ISSUER, aud: 'vault-relay', sub: 'rotator', iat: T - 10, exp: T + 600 }
let key: SigningKey

beforeAll(async () => {
  key = await generateSigningKey('ES256', 'k1')
})

function jwt(options: Record<string, unknown> = {}) {
  const config = { type: 'jwt', issuer: ISSUER, audience: 'vault-relay', algorithms: ['ES256'], ...options }
  return createVerifier(verifySchema.parse({ keys: [key.publicJwk], ...config }), {})
}

const body = (token: string, now = NOW) => ({ headers: {}, body: Buffer.from(token), now })
const sign = (claims: JWTPayload = CLAIMS) => makeJwt(claims, key)

describe('jwt body tokens: event id and time cannot be replayed into a rollback', () => {
  it('gives every whitespace-padded variant of a token without jti the same event id', async () => {
    const token = await sign()
    const ids = new Set<string | undefined>()
    for (const variant of [token, `${token}\n`, ` ${token}`, `\r\n${token}\t `]) {
      ids.add((await jwt().verify(body(variant))).eventId)
    }
    expect(ids.size).toBe(1)
    expect([...ids][0]).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuses a body token without iat by default, and accepts it when requireIssuedAt is false', async () => {
    const { iat: _, ...noIat } = CLAIMS
    await expect(jwt().verify(body(await sign(noIat)))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
      message: 'required claim missing',
    })
    await expect(jwt({ requireIssuedAt: false }).verify(body(await sign(noIat)))).resolves.toBeDefined()
  })

  it('refuses a body token without exp when maxTokenAge is unset, unless requireExpiry is false', async () => {
    const { exp: _, ...noExp } = CLAIMS
    await expect(jwt().verify(body(await sign(noExp)))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
      message: 'required claim missing',
    })
    await expect(jwt({ maxTokenAge: '10m' }).verify(body(await sign(noExp)))).resolves.toBeDefined()
    await expect(jwt({ requireExpiry: false }).verify(body(await sign(noExp)))).resolves.toBeDefined()
  })

  it('refuses a token issued beyond the clock tolerance in the future, even without maxTokenAge', async () => {
    await expect(jwt().verify(body(await sign({ ...CLAIMS, iat: T + 31 })))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
      message: 'token not yet valid',
    })
    await expect(jwt().verify(body(await sign({ ...CLAIMS, iat: T + 29 })))).resolves.toBeDefined()
    await expect(
      jwt({ in: 'header' }).verify({
        headers: { authorization: `Bearer ${await sign({ ...CLAIMS, iat: T + 3600 })}` },
        body: Buffer.from('{}'),
        now: NOW,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TIMESTAMP_STALE' })
  })
})
