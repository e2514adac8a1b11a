// `vault-relay send` for a google-pubsub source: it says it owns no Google key, and with a local key
// whose public half the source's jwksUrl serves it signs a push the relay's own verifier accepts.
import { exportJWK, exportPKCS8 } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signTestEvent } from '../../src/cli/sign.js'
import { parseConfig } from '../../src/load-config.js'
import { buildSources, type Source } from '../../src/receive/sources.js'
import { type FakeGoogleIssuer, startGoogleIssuer } from '../support/fake-pubsub.js'

let google: FakeGoogleIssuer
let source: Source
const MESSAGE = JSON.stringify({
  attributes: { eventType: 'SECRET_VERSION_ADD', secretId: 'projects/1/secrets/s' },
  data: { name: 'projects/1/secrets/s/versions/3', state: 'ENABLED' },
})

beforeAll(async () => {
  google = await startGoogleIssuer('https://issuer.local.test')
  const config = parseConfig(
    `
sources:
  - id: gcp
    verify:
      type: google-pubsub
      audience: relay-test
      serviceAccounts: [push@p.iam.gserviceaccount.com]
      issuer: https://issuer.local.test
      jwksUrl: ${google.jwksUrl}
`,
    {},
  )
  source = buildSources(config.sources, {}).get('gcp')!
})
afterAll(async () => {
  source.verifier.close?.()
  await google.close()
})

describe('send: google-pubsub', () => {
  it('owns no Google key: says so without --key', async () => {
    expect(await signTestEvent(source.config, MESSAGE, Date.now())).toEqual({
      cannotSign: expect.stringMatching(/owns none.*--key/),
    })
  })

  it.each(['jwk', 'pem'])('signs with a local %s key: the verifier unwraps the message', async (form) => {
    const key =
      form === 'jwk'
        ? JSON.stringify({ ...(await exportJWK(google.key.privateKey)), kid: google.key.kid })
        : await exportPKCS8(google.key.privateKey)
    const now = Date.now()
    const signed = await signTestEvent(source.config, MESSAGE, now, { key })
    if ('cannotSign' in signed) throw new Error(signed.cannotSign)
    const verified = await source.verifier.verify({
      headers: signed.headers,
      body: Buffer.from(signed.body),
      now,
    })
    expect(verified.payload).toMatchObject({
      message: {
        attributes: { eventType: 'SECRET_VERSION_ADD' },
        data: { name: 'projects/1/secrets/s/versions/3' },
      },
    })
    expect(verified.eventTime).toBe(now)
  })

  it('refuses a key that is no RSA private key', async () => {
    expect(await signTestEvent(source.config, MESSAGE, Date.now(), { key: 'nonsense' })).toEqual({
      cannotSign: expect.stringMatching(/not a private key/),
    })
  })
})
