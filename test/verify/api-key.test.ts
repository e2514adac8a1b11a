import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'

const NOW = 1_893_456_000_000
const BODY = JSON.stringify({ 'detail-type': 'Secret Label Updated', detail: { versionId: 'v7' } })

function apiKey(keys = ['key-new-0123456789']) {
  return createVerifier(verifySchema.parse({ type: 'api-key', header: 'X-Api-Key', keys }), {})
}

function input(value: string | undefined, body = BODY) {
  return { headers: value === undefined ? {} : { 'x-api-key': value }, body: Buffer.from(body), now: NOW }
}

describe('api-key verifier', () => {
  it('accepts the configured key in the configured header (matched case-insensitively by name)', async () => {
    await expect(apiKey().verify(input('key-new-0123456789'))).resolves.toEqual({
      payload: JSON.parse(BODY),
      keyId: 'keys[0]',
    })
  })

  it('refuses a wrong key, a prefix of the key and the key with extra text', async () => {
    for (const value of ['key-old', 'key-new-012345678', 'key-new-0123456789x']) {
      await expect(apiKey().verify(input(value))).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_INVALID',
        message: 'no key matched',
      })
    }
  })

  it('accepts either of two configured keys during rotation', async () => {
    const verifier = apiKey(['key-new-0123456789', 'key-old-9876543210'])
    await expect(verifier.verify(input('key-old-9876543210'))).resolves.toMatchObject({ keyId: 'keys[1]' })
    await expect(verifier.verify(input('key-new-0123456789'))).resolves.toMatchObject({ keyId: 'keys[0]' })
  })

  it('refuses a request without the header as missing', async () => {
    await expect(apiKey().verify(input(undefined))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
      message: 'missing x-api-key header',
    })
  })

  it('reads a header named like an object member (constructor) only when the request sends it', async () => {
    const verifier = createVerifier(
      verifySchema.parse({ type: 'api-key', header: 'constructor', keys: ['key-new-0123456789'] }),
      {},
    )
    await expect(verifier.verify({ headers: {}, body: Buffer.from(BODY), now: NOW })).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
    })
  })

  it('refuses a body that is not JSON, even with the right key', async () => {
    await expect(apiKey().verify(input('key-new-0123456789', 'not json'))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
    })
  })

  it('never quotes the key it was given in a refusal', async () => {
    const err = await apiKey()
      .verify(input('key-guess-123'))
      .then(
        () => expect.unreachable(),
        (e: unknown) => e as Error,
      )
    expect(err.message).not.toContain('key-guess-123')
  })
})
