import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'
import { stripeHeader, stripeSignature } from '../support/signers.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const SECRET = 'whsec_new_0123456789abcdef'
const OLD = 'whsec_old_fedcba9876543210'
const BODY = JSON.stringify({ id: 'evt_123', object: 'event', type: 'rotation.completed', created: T - 5 })

function stripe(secrets: string[] = [SECRET], extra: Record<string, unknown> = {}) {
  return createVerifier(verifySchema.parse({ type: 'stripe', secrets, ...extra }), {})
}

function input(signature: string | undefined, body = BODY, now = NOW) {
  const headers = signature === undefined ? {} : { 'stripe-signature': signature }
  return { headers, body: Buffer.from(body), now }
}

describe('stripe verifier', () => {
  it('accepts a valid signature and takes the event id and time from the event', async () => {
    const verified = await stripe().verify(input(stripeHeader(SECRET, T, BODY)))
    expect(verified).toEqual({
      payload: JSON.parse(BODY),
      eventId: 'evt_123',
      eventTime: (T - 5) * 1000,
      keyId: 'secrets[0]',
    })
  })

  it('refuses a tampered body', async () => {
    const tampered = BODY.replace('rotation', 'rotatiom')
    await expect(stripe().verify(input(stripeHeader(SECRET, T, BODY), tampered))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'no v1 signature matched',
    })
  })

  it('refuses a signature made with another secret', async () => {
    await expect(stripe().verify(input(stripeHeader('whsec_other', T, BODY)))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('refuses a timestamp older than the tolerance', async () => {
    const t = T - 301
    await expect(stripe().verify(input(stripeHeader(SECRET, t, BODY)))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
      message: 'timestamp outside tolerance',
    })
  })

  it('refuses a timestamp further in the future than the tolerance', async () => {
    const t = T + 301
    await expect(stripe().verify(input(stripeHeader(SECRET, t, BODY)))).rejects.toMatchObject({
      code: 'ERR_TIMESTAMP_STALE',
    })
  })

  it('accepts a timestamp inside a configured tolerance', async () => {
    const t = T - 59
    await expect(
      stripe([SECRET], { toleranceSeconds: 60 }).verify(input(stripeHeader(SECRET, t, BODY))),
    ).resolves.toMatchObject({
      eventId: 'evt_123',
    })
    await expect(
      stripe([SECRET], { toleranceSeconds: 60 }).verify(input(stripeHeader(SECRET, T - 61, BODY))),
    ).rejects.toMatchObject({ code: 'ERR_TIMESTAMP_STALE' })
  })

  it('accepts a request signed with either of two configured secrets while one is rotated', async () => {
    const verifier = stripe([SECRET, OLD])
    await expect(verifier.verify(input(stripeHeader(SECRET, T, BODY)))).resolves.toMatchObject({
      eventId: 'evt_123',
      keyId: 'secrets[0]',
    })
    // provenance names which secret matched by its place, never the secret
    await expect(verifier.verify(input(stripeHeader(OLD, T, BODY)))).resolves.toMatchObject({
      eventId: 'evt_123',
      keyId: 'secrets[1]',
    })
  })

  it('accepts a header with two v1 signatures where only the second matches', async () => {
    const header = `t=${T},v1=${stripeSignature('whsec_retired', T, BODY)},v1=${stripeSignature(SECRET, T, BODY)}`
    await expect(stripe().verify(input(header))).resolves.toMatchObject({ eventId: 'evt_123' })
  })

  it('ignores v0 and other schemes, so a request cannot downgrade', async () => {
    const header = `t=${T},v0=${stripeSignature(SECRET, T, BODY)}`
    await expect(stripe().verify(input(header))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
    const mixed = `t=${T},v0=00,v1=${stripeSignature(SECRET, T, BODY)},v2=zz`
    await expect(stripe().verify(input(mixed))).resolves.toMatchObject({ eventId: 'evt_123' })
  })

  it('refuses a request without the Stripe-Signature header as missing', async () => {
    await expect(stripe().verify(input(undefined))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
      status: 401,
    })
  })

  it.each([
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['a non-numeric timestamp', `t=soon,v1=${'a'.repeat(64)}`],
    ['two timestamps', `t=${T},t=${T},v1=${'a'.repeat(64)}`],
    ['no v1 at all', `t=${T}`],
    ['an item without a value', `t=${T},v1`],
    ['free text', 'not a signature'],
  ])('refuses a malformed header with %s', async (_name, header) => {
    await expect(stripe().verify(input(header))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: 'malformed stripe-signature header',
    })
  })

  it('refuses a non-hex v1 as not matching rather than crashing', async () => {
    await expect(stripe().verify(input(`t=${T},v1=zz`))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('refuses a correctly signed body that is not JSON with ERR_BODY_INVALID', async () => {
    const body = '{"id": "evt_1",'
    await expect(stripe().verify(input(stripeHeader(SECRET, T, body), body))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
      status: 400,
    })
    await expect(stripe().verify(input(stripeHeader(SECRET, T, ''), ''))).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
    })
  })

  it('checks the signature before the JSON, so an unsigned bad body is a signature failure', async () => {
    await expect(stripe().verify(input(stripeHeader('whsec_x', T, 'nope'), 'nope'))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })

  it('leaves the event id and time out when the event has none', async () => {
    const body = JSON.stringify({ type: 'x', created: 'yesterday' })
    const verified = await stripe().verify(input(stripeHeader(SECRET, T, body), body))
    expect(verified).toEqual({ payload: { type: 'x', created: 'yesterday' }, keyId: 'secrets[0]' })
  })

  it('never quotes the secret, signature or body in a refusal', async () => {
    const header = stripeHeader('whsec_other', T, BODY)
    const err = await stripe()
      .verify(input(header))
      .then(
        () => expect.unreachable(),
        (e: unknown) => e as Error,
      )
    for (const leak of [SECRET, 'whsec_other', header.slice(-64), 'evt_123'])
      expect(err.message).not.toContain(leak)
  })
})
