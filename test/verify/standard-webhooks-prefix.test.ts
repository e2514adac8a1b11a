// Either header set is accepted whatever headerPrefix says, as Svix's own libraries do (svix-*, then webhook-*).
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'

const SECRET = `whsec_${randomBytes(32).toString('base64')}`
const NOW = Date.UTC(2030, 0, 1)
const SECONDS = NOW / 1000
const BODY = JSON.stringify({ type: 'secret.rotated' })
const SIGNATURE = new Webhook(SECRET).sign('msg_p1', new Date(NOW), BODY)

const headers = (prefix: string, signature = SIGNATURE) => ({
  [`${prefix}-id`]: 'msg_p1',
  [`${prefix}-timestamp`]: String(SECONDS),
  [`${prefix}-signature`]: signature,
})
const verifier = (headerPrefix: string) =>
  createVerifier(verifySchema.parse({ type: 'standard-webhooks', secrets: [SECRET], headerPrefix }))
const input = (h: Record<string, string>) => ({ headers: h, body: Buffer.from(BODY), now: NOW })

describe('standard-webhooks header prefixes', () => {
  it.each([
    ['svix', 'webhook'],
    ['webhook', 'svix'],
    ['svix', 'svix'],
    ['webhook', 'webhook'],
  ])('headerPrefix %s accepts %s-* headers signed by the standardwebhooks package', async (prefix, sent) => {
    await expect(verifier(prefix).verify(input(headers(sent)))).resolves.toMatchObject({
      eventId: 'msg_p1',
      eventTime: NOW,
    })
  })

  it('still refuses a bad signature in the other set, and a request with neither set', async () => {
    const wrong = new Webhook(`whsec_${randomBytes(32).toString('base64')}`).sign(
      'msg_p1',
      new Date(NOW),
      BODY,
    )
    await expect(verifier('svix').verify(input(headers('webhook', wrong)))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    })
    await expect(verifier('svix').verify(input({}))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_MISSING',
      message: 'missing svix-id header',
    })
  })
})
