// The fake RWX server itself: it must behave as RWX-API.md says, or the delivery tests prove nothing.
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'

let fake: FakeRwx
beforeEach(async () => {
  fake = await startFakeRwx({ token: 't0k' })
})
afterEach(async () => {
  await fake.close()
})

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${fake.url}/mint/api/vaults/secrets`, {
    method: 'POST',
    headers: { authorization: 'Bearer t0k', 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const text = await res.body.text()
  return { status: res.statusCode, text, json: text ? JSON.parse(text) : undefined }
}

describe('fake RWX', () => {
  it('answers 403 without an Authorization header and 401 with a wrong token', async () => {
    const missing = await request(`${fake.url}/mint/api/vaults/secrets`, { method: 'POST', body: '{}' })
    await missing.body.dump()
    expect(missing.statusCode).toBe(403)
    expect((await post({}, { authorization: 'Bearer nope' })).status).toBe(401)
  })

  it('answers 400 with no body when Content-Type is missing', async () => {
    const res = await request(`${fake.url}/mint/api/vaults/secrets`, {
      method: 'POST',
      headers: { authorization: 'Bearer t0k' },
      body: JSON.stringify({ vault_name: 'v', secrets: [] }),
    })
    expect(res.statusCode).toBe(400)
    expect(await res.body.text()).toBe('')
  })

  it('stores valid secrets of a refused batch and names the failing ones', async () => {
    const r = await post({
      vault_name: 'v',
      secrets: [
        { name: 'ok', secret: 'x' },
        { name: 'bad name', secret: 'y' },
        { name: 'empty', secret: '' },
      ],
    })
    expect(r.status).toBe(400)
    expect(r.json.error).toContain('bad name')
    expect(r.json.error).toContain('empty')
    expect([...fake.secrets('v').keys()]).toEqual(['ok'])
  })

  it('bumps versions per write and records writes in order', async () => {
    await post({ vault_name: 'v', secrets: [{ name: 'A', secret: '1' }] })
    const r = await post({ vault_name: 'v', secrets: [{ name: 'A', secret: '2' }] })
    expect(r.json).toEqual({ set_secrets: ['A'], versions: { A: 2 } })
    expect(fake.writes.map((w) => [w.name, w.secret, w.version])).toEqual([
      ['A', '1', 1],
      ['A', '2', 2],
    ])
  })

  it('serves metadata without the value, 404 for an absent name, and outside changes made with alter', async () => {
    await post({ vault_name: 'v', secrets: [{ name: 'DB', secret: 'plain-value-1', description: 'd' }] })
    const get = async (name: string, vault = 'v') => {
      const res = await request(`${fake.url}/mint/api/vaults/secrets/${name}?vault_name=${vault}`, {
        headers: { authorization: 'Bearer t0k' },
      })
      const text = await res.body.text()
      return { status: res.statusCode, text }
    }
    const found = await get('DB')
    expect(found.status).toBe(200)
    expect(JSON.parse(found.text)).toEqual({ name: 'DB', description: 'd', version: 1 })
    expect(found.text).not.toContain('plain-value-1')
    expect((await get('NOPE')).status).toBe(404)
    expect((await get('DB', 'other')).status).toBe(404)
    fake.alter('v', 'DB', 0)
    expect(JSON.parse((await get('DB')).text).version).toBe(0)
    fake.alter('v', 'DB', null)
    expect((await get('DB')).status).toBe(404)
  })

  it('refuses connections while down, and comes back on the same port', async () => {
    const { port } = fake
    await fake.down()
    await expect(post({})).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await fake.up()
    expect(fake.port).toBe(port)
    expect((await post({ vault_name: 'v', secrets: [{ name: 'A', secret: '1' }] })).status).toBe(200)
  })

  it('waitFor resolves on a condition and rejects after its bound', async () => {
    const waiting = fake.waitFor((writes) => writes.some((w) => w.name === 'B'), 2_000)
    await post({ vault_name: 'v', secrets: [{ name: 'B', secret: '1' }] })
    await expect(waiting).resolves.toBeUndefined()
    await expect(fake.waitFor(() => false, 50)).rejects.toThrow(/not met in 50 ms/)
  })

  it('plays programmed faults in order, then behaves again', async () => {
    fake.failNext(1, { status: 429, retryAfter: 3 })
    fake.failNext(1, { status: 500, body: { errors: ['boom'] } })
    const a = await request(`${fake.url}/mint/api/vaults/secrets`, { method: 'POST', body: '{}' })
    await a.body.dump()
    expect([a.statusCode, a.headers['retry-after']]).toEqual([429, '3'])
    expect((await post({})).json).toEqual({ errors: ['boom'] })
    expect((await post({ vault_name: 'v', secrets: [{ name: 'A', secret: '1' }] })).status).toBe(200)
    expect(fake.requests.map((r) => r.status)).toEqual([429, 500, 200])
  })
})
