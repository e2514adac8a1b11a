import { beforeAll, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import {
  ed25519Signer,
  standardWebhookEd25519Signature,
  standardWebhookHeaders,
  standardWebhookSecret,
  standardWebhookSignature,
} from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const BODY = JSON.stringify({ type: 'secret.rotated', data: { secret: 'app/db', version: '7' } })
const SECRET = standardWebhookSecret()
const OLD = standardWebhookSecret()
let signer: Awaited<ReturnType<typeof ed25519Signer>>
let other: Awaited<ReturnType<typeof ed25519Signer>>

beforeAll(async () => {
  signer = await ed25519Signer()
  other = await ed25519Signer()
})

function sw(options: Record<string, unknown> = { secrets: [SECRET] }) {
  return createVerifier(verifySchema.parse({ type: 'standard-webhooks', ...options }), {})
}

function input(headers: Record<string, string>, body = BODY, now = NOW) {
  return { headers, body: Buffer.from(body), now }
}

function signed(extra: Partial<Parameters<typeof standardWebhookHeaders>[0]> = {}) {
  return standardWebhookHeaders({ id: 'msg_1', timestamp: T, body: BODY, secrets: [SECRET], ...extra })
}

describe('standard-webhooks verifier', () => {
  it('accepts a valid v1 signature; the event id and time come from the headers', async () => {
    await expect(sw().verify(input(signed()))).resolves.toEqual({
      payload: JSON.parse(BODY),
      eventId: 'msg_1',
      eventTime: NOW,
      keyId: 'secrets[0]',
    })
  })

  it('refuses a tampered body', async () => {
    await expect(sw().verify(input(signed(), BODY.replace('7', '8')))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'no signature matched',
    })
  })

  it('refuses a changed webhook-id, which is part of the signed content', async () => {
    const headers = { ...signed(), 'webhook-id': 'msg_2' }
    await expect(sw().verify(input(headers))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('refuses a signature made with another secret', async () => {
    await expect(sw().verify(input(signed({ secrets: [standardWebhookSecret()] })))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('refuses timestamps beyond the tolerance in either direction', async () => {
    for (const timestamp of [T - 301, T + 301]) {
      await expect(sw().verify(input(signed({ timestamp })))).rejects.toMatchObject({
        code: 'ERR_TIMESTAMP_STALE',
        message: 'timestamp outside tolerance',
      })
    }
    await expect(sw().verify(input(signed({ timestamp: T - 299 })))).resolves.toMatchObject({
      eventId: 'msg_1',
    })
  })

  it('accepts either of two configured secrets during rotation, and any entry of the list', async () => {
    const verifier = sw({ secrets: [SECRET, OLD] })
    await expect(verifier.verify(input(signed({ secrets: [OLD] })))).resolves.toMatchObject({
      eventId: 'msg_1',
      keyId: 'secrets[1]',
    })
    const list = signed({ secrets: [standardWebhookSecret(), SECRET] })
    await expect(sw().verify(input(list))).resolves.toMatchObject({ eventId: 'msg_1' })
  })

  it('accepts a bare base64 secret without the whsec_ prefix', async () => {
    await expect(
      sw({ secrets: [SECRET.slice('whsec_'.length)] }).verify(input(signed())),
    ).resolves.toMatchObject({
      eventId: 'msg_1',
    })
  })

  it('accepts a v1a Ed25519 signature from a configured public key (whpk_ or bare base64)', async () => {
    const headers = signed({ secrets: [], privateKeys: [signer.privateKey] })
    await expect(sw({ publicKeys: [signer.publicKey] }).verify(input(headers))).resolves.toMatchObject({
      eventId: 'msg_1',
    })
    const bare = signer.publicKey.slice('whpk_'.length)
    await expect(sw({ publicKeys: [other.publicKey, bare] }).verify(input(headers))).resolves.toMatchObject({
      eventTime: NOW,
      keyId: 'publicKeys[1]',
    })
  })

  it('refuses a v1a signature from an unknown key or over another body', async () => {
    const headers = signed({ secrets: [], privateKeys: [other.privateKey] })
    await expect(sw({ publicKeys: [signer.publicKey] }).verify(input(headers))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
    const mine = signed({ secrets: [], privateKeys: [signer.privateKey] })
    await expect(sw({ publicKeys: [signer.publicKey] }).verify(input(mine, '{}'))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('does not take a v1 HMAC as a v1a signature or the reverse', async () => {
    const hmac = standardWebhookSignature(SECRET, 'msg_1', T, BODY).replace('v1,', 'v1a,')
    const ed = standardWebhookEd25519Signature(signer.privateKey, 'msg_1', T, BODY).replace('v1a,', 'v1,')
    const verifier = sw({ secrets: [SECRET], publicKeys: [signer.publicKey] })
    for (const signature of [hmac, ed]) {
      await expect(
        verifier.verify(input({ ...signed(), 'webhook-signature': signature })),
      ).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_INVALID',
      })
    }
  })

  it('reads svix- headers when the prefix is svix, and (as Svix does) with the default prefix too', async () => {
    const headers = signed({ prefix: 'svix' })
    await expect(
      sw({ secrets: [SECRET], headerPrefix: 'svix' }).verify(input(headers)),
    ).resolves.toMatchObject({
      eventId: 'msg_1',
    })
    await expect(sw().verify(input(headers))).resolves.toMatchObject({ eventId: 'msg_1' })
  })

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'refuses a request without %s',
    async (name) => {
      const headers: Record<string, string> = { ...signed() }
      delete headers[name]
      await expect(sw().verify(input(headers))).rejects.toMatchObject({
        code: 'ERR_SIGNATURE_MISSING',
        message: `missing ${name} header`,
      })
    },
  )

  it.each([
    ['a non-numeric timestamp', { 'webhook-timestamp': 'now' }, 'malformed webhook-timestamp header'],
    ['an id with a dot', { 'webhook-id': 'msg.1' }, 'malformed webhook-id header'],
    ['a signature without a version', { 'webhook-signature': 'abcd' }, 'malformed webhook-signature header'],
    [
      'a signature that is not base64',
      { 'webhook-signature': 'v1,***' },
      'malformed webhook-signature header',
    ],
    [
      'too many signatures',
      { 'webhook-signature': Array(17).fill('v1,AAAA').join(' ') },
      'too many signatures',
    ],
  ])('refuses a malformed header: %s', async (_name, change, message) => {
    await expect(sw().verify(input({ ...signed(), ...change }))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message,
    })
  })

  it('refuses a correctly signed body that is not JSON', async () => {
    const headers = standardWebhookHeaders({ id: 'msg_1', timestamp: T, body: 'x', secrets: [SECRET] })
    await expect(sw().verify(input(headers, 'x'))).rejects.toMatchObject({ code: 'ERR_BODY_INVALID' })
  })

  it('refuses a config whose secret is not base64, without quoting it', () => {
    expect(() => sw({ secrets: ['whsec_not base64!'] })).toThrow(/whsec_ followed by standard base64/)
    expect(() => sw({ secrets: ['whsec_not base64!'] })).not.toThrow(/not base64!/)
    expect(() => sw({ publicKeys: ['whpk_AAAA'] })).toThrow('publicKeys[0] is not a 32-byte Ed25519 key')
  })
})
