// The new refusals (future event time, over-long names, too-deep values) against requests signed by the
// vendors' own code (stripe-node, the standardwebhooks package), through the whole hook.
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import Stripe from 'stripe'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const STRIPE_SECRET = `whsec_${randomBytes(24).toString('hex')}`
const SW_SECRET = `whsec_${randomBytes(32).toString('base64')}`
const NOW = Date.UTC(2030, 0, 1)
const SECONDS = NOW / 1000

const config = `
rateLimit: { max: 0 }
sources:
  - id: stripe
    verify: { type: stripe, secrets: ["${STRIPE_SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /data/object/name }}", value: /data/object/value }]
  - id: sw
    bodyLimit: 1048576
    verify: { type: standard-webhooks, secrets: ["${SW_SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /data/name }}", value: /data/value }]
`

let h: Harness
afterEach(async () => h?.close())

function postStripe(event: Record<string, unknown>) {
  const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'x', ...event })
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: STRIPE_SECRET,
    timestamp: SECONDS,
  })
  return h.app.inject({
    method: 'POST',
    url: '/hooks/stripe',
    payload,
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
  })
}

function postSw(payload: string, id = `msg_${randomBytes(8).toString('hex')}`) {
  const signature = new Webhook(SW_SECRET).sign(id, new Date(NOW), payload)
  return h.app.inject({
    method: 'POST',
    url: '/hooks/sw',
    payload,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(SECONDS),
      'webhook-signature': signature,
    },
  })
}

describe('refusals of vendor-signed requests', () => {
  it('stripe-node: a fresh signature over an event created a year ahead is 422 ERR_EVENT_TIME_FUTURE', async () => {
    h = await startHarness(config, { clock: () => NOW })
    const data = { object: { name: 'db', value: 'v' } }
    const future = await postStripe({ created: SECONDS + 365 * 86_400, data })
    expect(future.statusCode).toBe(422)
    expect(future.json()).toMatchObject({ code: 'ERR_EVENT_TIME_FUTURE' })
    expect((await postStripe({ id: 'evt_2', created: SECONDS - 5, data })).statusCode).toBe(202)
  })

  it('standardwebhooks: an over-long name and a too-deeply nested value are 422 ERR_UNMAPPABLE', async () => {
    h = await startHarness(config, { clock: () => NOW })
    const long = await postSw(JSON.stringify({ data: { name: 'n'.repeat(257), value: 'v' } }))
    expect(long.statusCode).toBe(422)
    expect(long.json()).toMatchObject({ code: 'ERR_UNMAPPABLE' })
    const deep = `{"data":{"name":"db","value":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`
    const nested = await postSw(deep)
    expect(nested.statusCode).toBe(422)
    expect(nested.json()).toMatchObject({ code: 'ERR_UNMAPPABLE' })
    expect((await h.store.counts()).queued).toBe(0)
  })
})
