// A whitespace-padded replay of a signed JWT body is the same event, so it cannot roll a secret back.
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'
import { generateSigningKey, makeJwt } from '../support/signers.js'

const NOW = Date.UTC(2030, 0, 1)
const T = NOW / 1000

let h: Harness
afterEach(async () => h?.close())

describe('jwt body replay', () => {
  it('answers a padded replay of an older token (no jti) as a duplicate, queuing nothing', async () => {
    const key = await generateSigningKey('ES256', 'k1')
    h = await startHarness(
      `
rateLimit: { max: 0 }
sources:
  - id: op
    verify: { type: jwt, issuer: op, audience: relay, algorithms: [ES256], keys: [${JSON.stringify(key.publicJwk)}] }
    rules:
      - secrets: [{ vault: ci, name: DB, value: /value }]
`,
      { clock: () => NOW },
    )
    const claims = { iss: 'op', aud: 'relay', exp: T + 600 }
    const a = await makeJwt({ ...claims, iat: T - 20, value: 'OLD' }, key)
    const b = await makeJwt({ ...claims, iat: T - 10, value: 'NEW' }, key)
    const post = (payload: string) =>
      h.app.inject({ method: 'POST', url: '/hooks/op', payload, headers: { 'content-type': 'text/plain' } })
    expect((await post(a)).statusCode).toBe(202)
    expect((await post(b)).statusCode).toBe(202)
    for (const padded of [`${a}\n`, ` ${a}`, `${a}\r\n`]) {
      const res = await post(padded)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ duplicate: true })
    }
  })
})
