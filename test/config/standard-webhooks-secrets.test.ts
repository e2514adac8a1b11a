// Standard Webhooks signing secrets that the spec and Svix's server refuse are refused when the config loads.
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/load-config.js'
import { createVerifier } from '../../src/verify/registry.js'

const config = (secret: string) => `
sources:
  - id: ok
    verify: { type: standard-webhooks, secrets: ["whsec_${randomBytes(32).toString('base64')}"] }
  - id: rotator
    verify: { type: standard-webhooks, secrets: ["${secret}"] }
`
const env = { RWX_ACCESS_TOKEN: 't' }

function loadError(secret: string): string {
  try {
    parseConfig(config(secret), env)
  } catch (err) {
    return String((err as Error).message)
  }
  return 'loaded'
}

describe('standard-webhooks secrets at config load', () => {
  const b64 = (n: number) => randomBytes(n).toString('base64')
  it.each([
    ['shorter than 24 bytes', `whsec_${b64(16)}`],
    ['longer than 64 bytes', `whsec_${b64(65)}`],
    ['a whsk_ string', `whsk_${b64(32)}`],
    ['a mistyped prefix', `whsec-${b64(32)}`],
    ['a mistyped prefix (wsec_)', `wsec_${b64(32)}`],
    ['mixed base64 alphabets', `whsec_${'+'.repeat(2)}${'_'.repeat(2)}${'A'.repeat(28)}`],
  ])('refuses a secret %s, naming the source and not the secret', (_name, secret) => {
    const message = loadError(secret)
    expect(message).toContain('sources[1].verify.secrets[0]')
    expect(message).toMatch(/24 to 64 bytes/)
    expect(message).not.toContain(secret.slice(6, 20))
  })

  it.each([24, 32, 64])('accepts a whsec_ secret of %i bytes and a bare base64 one', (n) => {
    expect(loadError(`whsec_${b64(n)}`)).toBe('loaded')
    expect(loadError(b64(n))).toBe('loaded')
  })

  it("accepts what the standardwebhooks package signs with a valid secret, as Svix's libraries would", async () => {
    const secret = `whsec_${b64(24)}`
    const parsed = parseConfig(config(secret), env)
    const verifier = createVerifier(parsed.sources[1]!.verify!)
    const seconds = Math.floor(Date.now() / 1000)
    const signature = new Webhook(secret).sign('msg_1', new Date(seconds * 1000), '{}')
    await expect(
      verifier.verify({
        headers: {
          'webhook-id': 'msg_1',
          'webhook-timestamp': String(seconds),
          'webhook-signature': signature,
        },
        body: Buffer.from('{}'),
        now: seconds * 1000,
      }),
    ).resolves.toMatchObject({ eventId: 'msg_1' })
  })
})
