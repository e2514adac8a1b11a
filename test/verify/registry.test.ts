import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { RelayError } from '../../src/errors.js'
import { createVerifier, failClosed } from '../../src/verify/registry.js'
import type { Verifier } from '../../src/verify/types.js'

const input = { headers: {}, body: Buffer.from('{}'), now: 0 }

describe('verifier registry', () => {
  it.each([
    { type: 'stripe', secrets: ['whsec_a'] },
    { type: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
    { type: 'hmac', header: 'x-sig', secrets: ['s'] },
    { type: 'api-key', header: 'x-api-key', keys: ['k'] },
    { type: 'basic', credentials: ['u:p'] },
    { type: 'jwt', jwksUrl: 'http://127.0.0.1:1/jwks', issuer: 'i', audience: 'a', algorithms: ['ES256'] },
    { type: 'aws-sns', topicArns: ['arn:aws:sns:eu-west-1:1:t'] },
  ])('creates a $type verifier that refuses an unsigned request', async (config) => {
    const verifier = createVerifier(verifySchema.parse(config), {})
    await expect(verifier.verify(input)).rejects.toBeInstanceOf(RelayError)
  })

  it('throws a config error naming the key but not its value when a key cannot be read', () => {
    const config = verifySchema.parse({
      type: 'hmac',
      header: 'x',
      secrets: ['not base64 !'],
      keyEncoding: 'base64',
    })
    expect(() => createVerifier(config, {})).toThrow(/^hmac: secrets\[0\] is not base64$/)
  })
})

describe('failClosed', () => {
  it('turns an unexpected exception into a refusal that does not quote it', async () => {
    const broken: Verifier = {
      verify: async () => {
        throw new TypeError('boom: secret-ish detail')
      },
    }
    const err = await failClosed(broken)
      .verify(input)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_SIGNATURE_INVALID', status: 401, message: 'verification failed' })
    expect((err as RelayError).cause).toBeUndefined()
  })

  it('passes refusals and results through, and closes the inner verifier', async () => {
    let closed = false
    const refusing: Verifier = {
      verify: async () => {
        throw new RelayError('ERR_TIMESTAMP_STALE', 'timestamp outside tolerance')
      },
      close: () => {
        closed = true
      },
    }
    await expect(failClosed(refusing).verify(input)).rejects.toMatchObject({ code: 'ERR_TIMESTAMP_STALE' })
    failClosed(refusing).close?.()
    expect(closed).toBe(true)
    const passing: Verifier = { verify: async () => ({ payload: { ok: true } }) }
    await expect(failClosed(passing).verify(input)).resolves.toEqual({ payload: { ok: true } })
  })
})
