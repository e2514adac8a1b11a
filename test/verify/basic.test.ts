import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { basicAuthorization } from '../support/signers.js'

const NOW = 1_893_456_000_000
const BODY = JSON.stringify({ detail: { name: 'app/db' } })

function basic(credentials = ['eventbridge:s3cret-pass']) {
  return createVerifier(verifySchema.parse({ type: 'basic', credentials }), {})
}

function input(authorization: string | undefined, body = BODY) {
  return { headers: authorization === undefined ? {} : { authorization }, body: Buffer.from(body), now: NOW }
}

describe('basic verifier', () => {
  it('accepts the configured user and password', async () => {
    await expect(basic().verify(input(basicAuthorization('eventbridge', 's3cret-pass')))).resolves.toEqual({
      payload: JSON.parse(BODY),
      keyId: 'credentials[0]',
    })
  })

  it('accepts the scheme in any case', async () => {
    const value = basicAuthorization('eventbridge', 's3cret-pass').replace('Basic', 'bAsIc')
    await expect(basic().verify(input(value))).resolves.toBeDefined()
  })

  it('accepts a password that itself contains a colon', async () => {
    await expect(basic(['u:p:q']).verify(input(basicAuthorization('u', 'p:q')))).resolves.toBeDefined()
  })

  it('refuses a wrong password and a wrong user', async () => {
    for (const [user, password] of [
      ['eventbridge', 'wrong'],
      ['someone', 's3cret-pass'],
    ] as const) {
      await expect(basic().verify(input(basicAuthorization(user, password)))).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_INVALID',
        message: 'no credentials matched',
      })
    }
  })

  it('accepts either of two configured credentials during rotation', async () => {
    const verifier = basic(['eventbridge:new-pass', 'eventbridge:old-pass'])
    await expect(
      verifier.verify(input(basicAuthorization('eventbridge', 'old-pass'))),
    ).resolves.toMatchObject({
      keyId: 'credentials[1]',
    })
    await expect(
      verifier.verify(input(basicAuthorization('eventbridge', 'new-pass'))),
    ).resolves.toMatchObject({
      keyId: 'credentials[0]',
    })
  })

  it('refuses a request without Authorization as missing', async () => {
    await expect(basic().verify(input(undefined))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_MISSING' })
  })

  it.each(['Bearer abc', 'Basic', 'Basic !!!', 'Basic a b'])(
    'refuses a malformed header %j',
    async (value) => {
      await expect(basic().verify(input(value))).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_INVALID',
        message: 'malformed authorization header',
      })
    },
  )

  it('refuses a body that is not JSON, even with the right credentials', async () => {
    const value = basicAuthorization('eventbridge', 's3cret-pass')
    await expect(basic().verify(input(value, ''))).rejects.toMatchObject({ code: 'ERR_BODY_INVALID' })
  })
})
