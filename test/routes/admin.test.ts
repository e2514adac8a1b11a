import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'

const KEY = 'api-key-do-not-leak'
const VALUE = 'admin-test-value-do-not-leak'
const config = (admin = 'admin: { token: adm-token }') => `
${admin}
sources:
  - id: src
    verify: { type: api-key, header: x-key, keys: ["${KEY}"] }
    rules:
      - secrets: [{ vault: v, name: "{{ /name }}", value: /value }]
`
let h: Harness
afterEach(async () => h?.close())

const auth = { authorization: 'Bearer adm-token' }
async function send(name: string) {
  const res = await h.app.inject({
    method: 'POST',
    url: '/hooks/src',
    headers: { 'x-key': KEY, 'content-type': 'application/json' },
    payload: JSON.stringify({ name, value: VALUE }),
  })
  expect(res.statusCode).toBe(202)
  return res.json().event as string
}

describe('admin API', () => {
  it('is off (404) when no admin token is set', async () => {
    h = await startHarness(config(''))
    expect((await h.app.inject({ method: 'GET', url: '/admin/events', headers: auth })).statusCode).toBe(404)
  })

  it('refuses a missing or wrong token', async () => {
    h = await startHarness(config())
    expect((await h.app.inject({ method: 'GET', url: '/admin/events' })).statusCode).toBe(401)
    const wrong = await h.app.inject({
      method: 'GET',
      url: '/admin/events',
      headers: { authorization: 'Bearer x' },
    })
    expect(wrong.statusCode).toBe(401)
  })

  it('lists and shows events without ever returning a value', async () => {
    h = await startHarness(config())
    const id = await send('A')
    const list = await h.app.inject({ method: 'GET', url: '/admin/events?status=queued', headers: auth })
    expect(list.statusCode).toBe(200)
    expect(list.json().events.map((e: { event: string }) => e.event)).toEqual([id])
    const one = await h.app.inject({ method: 'GET', url: `/admin/events/src/${id}`, headers: auth })
    expect(one.json().secrets[0]).toMatchObject({
      vault: 'v',
      name: 'A',
      status: 'queued',
      valueFrom: 'payload',
    })
    expect(one.json().secrets[0].fingerprint).toEqual(expect.any(String))
    for (const body of [list.body, one.body]) {
      expect(body).not.toContain(VALUE)
      expect(body).not.toContain(KEY)
    }
  })

  it('discards queued secrets and retries make them due', async () => {
    h = await startHarness(config())
    const id = await send('B')
    const retry = await h.app.inject({ method: 'POST', url: `/admin/events/src/${id}/retry`, headers: auth })
    expect(retry.json()).toEqual({ event: id, queued: 1 })
    const discard = await h.app.inject({
      method: 'POST',
      url: `/admin/events/src/${id}/discard`,
      headers: auth,
    })
    expect(discard.json()).toEqual({ event: id, discarded: 1 })
    expect((await h.store.counts()).discarded).toBe(1)
    const missing = await h.app.inject({ method: 'POST', url: '/admin/events/src/nope/retry', headers: auth })
    expect(missing.statusCode).toBe(404)
  })

  it('answers 400 for a bad filter', async () => {
    h = await startHarness(config())
    const res = await h.app.inject({ method: 'GET', url: '/admin/events?status=weird', headers: auth })
    expect(res.statusCode).toBe(400)
  })
})
