import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { compileRules, MappingConfigError } from '../../src/mapping/rules.js'
import { type Harness, startHarness } from '../support/app-harness.js'

const SECRET = 'hmac-signing-secret-do-not-leak'
const config = `
rateLimit: { max: 0 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: "{{ /vault }}", name: "{{ /name }}", value: /value }]
`

let h: Harness
afterEach(async () => h?.close())

function post(payload: Record<string, unknown>) {
  const body = JSON.stringify({ vault: 'ci', name: 'db', value: 'v', ...payload })
  const sig = createHmac('sha256', SECRET).update(body).digest('hex')
  return h.app.inject({
    method: 'POST',
    url: '/hooks/ci',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-sig': sig },
  })
}

describe('vault and secret name length', () => {
  it('refuses a templated name or vault over 256 characters with 422, never logging or queuing it', async () => {
    h = await startHarness(config)
    const long = 'N'.repeat(200_000)
    for (const payload of [{ name: long }, { vault: long }, { name: 'n'.repeat(257) }]) {
      const res = await post(payload)
      expect(res.statusCode).toBe(422)
      expect(res.json()).toMatchObject({ code: 'ERR_UNMAPPABLE' })
      expect(res.json().detail).toMatch(/longer than 256/)
    }
    expect(h.logs()).not.toContain('N'.repeat(300))
    expect((await h.store.counts()).queued).toBe(0)
    expect((await post({ name: 'n'.repeat(256) })).statusCode).toBe(202)
  })

  it('refuses a static name over 256 characters when the config loads', () => {
    const source = {
      id: 's',
      verify: { type: 'api-key', header: 'x', keys: ['k'] },
      rules: [{ when: {}, secrets: [{ vault: 'ci', name: 'n'.repeat(257), value: '/v' }] }],
      bodyLimit: 1,
    }
    expect(() => compileRules(source as never)).toThrow(MappingConfigError)
    expect(() => compileRules(source as never)).toThrow(/longer than 256/)
  })
})
