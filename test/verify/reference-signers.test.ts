// The verifiers against signatures made by the vendors' own code (stripe, standardwebhooks), not by ours.
import { randomBytes, randomUUID } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import Stripe from 'stripe'
import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'

const now = Date.now()
const seconds = Math.floor(now / 1000)

describe("stripe's generateTestHeaderString", () => {
  const secret = `whsec_${randomBytes(24).toString('hex')}`
  const payload = JSON.stringify({
    id: 'evt_ref_1',
    object: 'event',
    type: 'rotation.completed',
    created: seconds - 2,
    data: { object: { name: 'db', value: 'v' } },
  })
  const verifier = createVerifier(verifySchema.parse({ type: 'stripe', secrets: [secret] }))
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: seconds })

  it('is accepted by the stripe verifier', async () => {
    const verified = await verifier.verify({
      headers: { 'stripe-signature': header },
      body: Buffer.from(payload),
      now,
    })
    expect(verified).toMatchObject({ eventId: 'evt_ref_1', payload: JSON.parse(payload) })
  })

  it('is refused for a tampered body', async () => {
    const tampered = payload.replace('"v"', '"w"')
    await expect(
      verifier.verify({ headers: { 'stripe-signature': header }, body: Buffer.from(tampered), now }),
    ).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })

  it('is refused when made with another secret', async () => {
    const other = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: 'whsec_other',
      timestamp: seconds,
    })
    await expect(
      verifier.verify({ headers: { 'stripe-signature': other }, body: Buffer.from(payload), now }),
    ).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' })
  })
})

describe("the standardwebhooks package's Webhook.sign", () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const payload = JSON.stringify({ type: 'secret.rotated', data: { vault: 'ci', name: 'TOKEN', value: 'v' } })
  const id = `msg_${randomUUID()}`
  const signature = new Webhook(secret).sign(id, new Date(seconds * 1000), payload)
  const headers = { 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': signature }

  it('is accepted by the standard-webhooks verifier, which takes webhook-id as the event id', async () => {
    const verifier = createVerifier(verifySchema.parse({ type: 'standard-webhooks', secrets: [secret] }))
    const verified = await verifier.verify({ headers, body: Buffer.from(payload), now })
    expect(verified).toMatchObject({ eventId: id, eventTime: seconds * 1000, payload: JSON.parse(payload) })
  })

  it('is accepted under the svix- header prefix too', async () => {
    const verifier = createVerifier(
      verifySchema.parse({ type: 'standard-webhooks', secrets: [secret], headerPrefix: 'svix' }),
    )
    const svix = { 'svix-id': id, 'svix-timestamp': String(seconds), 'svix-signature': signature }
    await expect(verifier.verify({ headers: svix, body: Buffer.from(payload), now })).resolves.toMatchObject({
      eventId: id,
    })
  })

  it('is refused for a tampered body', async () => {
    const verifier = createVerifier(verifySchema.parse({ type: 'standard-webhooks', secrets: [secret] }))
    const tampered = payload.replace('"v"', '"w"')
    await expect(verifier.verify({ headers, body: Buffer.from(tampered), now })).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
  })
})
