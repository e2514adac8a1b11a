import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const SECRET = 'hmac-signing-secret-do-not-leak'
const config = `
rateLimit: { max: 0 }
sources:
  - id: ci
    bodyLimit: 1048576
    verify: { type: hmac, header: x-sig, secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: db, value: /value, description: "{{ /deep }}" }]
`

let h: Harness
afterEach(async () => h?.close())

function post(body: string) {
  const sig = createHmac('sha256', SECRET).update(body).digest('hex')
  return h.app.inject({
    method: 'POST',
    url: '/hooks/ci',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-sig': sig },
  })
}

const DEPTH = 200_000
const nested = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`

describe('deeply nested signed payloads', () => {
  it('answers 422, not 500, when the mapped value is nested too deeply to serialise', async () => {
    h = await startHarness(config)
    const res = await post(`{"value":${nested},"deep":"x"}`)
    expect(res.statusCode).toBe(422)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ code: 'ERR_UNMAPPABLE' })
  })

  it('answers 422, not 500, when a template renders a deeply nested value', async () => {
    h = await startHarness(config)
    const res = await post(`{"value":"v","deep":${nested}}`)
    expect(res.statusCode).toBe(422)
    expect(res.json()).toMatchObject({ code: 'ERR_UNMAPPABLE' })
  })

  it('still queues an event whose deep nesting is elsewhere in the payload', async () => {
    h = await startHarness(config)
    expect((await post(`{"value":"v","deep":"x","other":${nested}}`)).statusCode).toBe(202)
  })
})
