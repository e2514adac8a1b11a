// `vault-relay send`'s signer: what it signs passes the relay's own verifier for each scheme, and schemes
// where the relay holds only public keys say so instead of signing.
import { describe, expect, it } from 'vitest'
import { signTestEvent } from '../../src/cli/sign.js'
import { parseConfig } from '../../src/load-config.js'
import { buildSources } from '../../src/receive/sources.js'

const NOW = 1_800_000_000_000
const PAYLOAD = JSON.stringify({ id: 'evt_1', created: NOW / 1000, name: 'DB', value: 'v-123' })

const config = parseConfig(
  `
sources:
  - { id: stripe, verify: { type: stripe, secrets: [whsec_first, whsec_second] } }
  - { id: sw, verify: { type: standard-webhooks, secrets: ["whsec_${Buffer.from('k'.repeat(24)).toString('base64')}"] } }
  - { id: svix, verify: { type: standard-webhooks, headerPrefix: svix, secrets: ["whsec_${Buffer.from('s'.repeat(24)).toString('base64')}"] } }
  - { id: hmac, verify: { type: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [gh-secret] } }
  - { id: hmac64, verify: { type: hmac, header: x-sig, algorithm: sha512, encoding: base64, keyEncoding: base64, secrets: ["${Buffer.from('key').toString('base64')}"] } }
  - { id: key, verify: { type: api-key, header: x-api-key, keys: [k-1, k-2] } }
  - { id: basic, verify: { type: basic, credentials: ["user:pa:ss"] } }
  - id: jwt
    verify:
      type: jwt
      issuer: https://issuer.test
      audience: relay
      algorithms: [HS256]
      claims: { sub: rotator }
      keys: [{ kty: oct, kid: shared-1, k: "${Buffer.from('a'.repeat(32)).toString('base64url')}" }]
  - id: jwt-header
    verify:
      type: jwt
      in: header
      issuer: https://issuer.test
      audience: relay
      algorithms: [HS256]
      keys: [{ kty: oct, k: "${Buffer.from('b'.repeat(32)).toString('base64url')}" }]
  - { id: jwks, verify: { type: jwt, issuer: i, audience: a, algorithms: [ES256], jwksUrl: "http://127.0.0.1:1/jwks" } }
  - { id: ed, verify: { type: standard-webhooks, publicKeys: ["whpk_${Buffer.alloc(32, 1).toString('base64')}"] } }
  - { id: sns, verify: { type: aws-sns, topicArns: ["arn:aws:sns:eu-west-1:1:t"] } }
`,
  {},
)
const sources = buildSources(config.sources, {})

async function signAndVerify(id: string) {
  const source = sources.get(id)!
  const signed = await signTestEvent(source.config, PAYLOAD, NOW)
  if ('cannotSign' in signed) throw new Error(signed.cannotSign)
  return source.verifier.verify({ headers: signed.headers, body: Buffer.from(signed.body), now: NOW })
}

describe('send: signing a test event with the source own scheme', () => {
  it.each(['stripe', 'sw', 'svix', 'hmac', 'hmac64', 'key', 'basic'])(
    '%s passes the relay verifier',
    async (id) => {
      const verified = await signAndVerify(id)
      expect(verified.payload).toEqual(JSON.parse(PAYLOAD))
      expect(verified.keyId).toMatch(/\[0\]$/)
    },
  )

  it('jwt with a shared key: a token holding the payload and the configured claims', async () => {
    const verified = await signAndVerify('jwt')
    expect(verified.payload).toMatchObject({
      ...JSON.parse(PAYLOAD),
      sub: 'rotator',
      iss: 'https://issuer.test',
    })
    expect(verified.keyId).toBe('kid:shared-1')
    expect((await signAndVerify('jwt-header')).payload).toEqual(JSON.parse(PAYLOAD))
  })

  it.each([
    ['jwks', /only public keys/],
    ['ed', /only Ed25519 publicKeys/],
    ['sns', /AWS signs SNS messages/],
  ])('%s: says clearly it cannot sign', async (id, reason) => {
    const signed = await signTestEvent(sources.get(id)!.config, PAYLOAD, NOW)
    expect(signed).toEqual({ cannotSign: expect.stringMatching(reason) })
  })
})
