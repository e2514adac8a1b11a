// The RWX client against the fake RWX server: requests it makes and how it translates answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createRwxClient,
  MAX_RWX_MESSAGE,
  namedIn,
  type RwxClient,
  safeMessage,
} from '../../src/delivery/rwx-client.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'

let fake: FakeRwx
let client: RwxClient

beforeAll(async () => {
  fake = await startFakeRwx({ token: 'tok-abc', vaults: ['payments', 'other'] })
  client = make(fake.url)
})
afterEach(() => {
  fake.reset()
  fake.setToken('tok-abc')
})
afterAll(async () => {
  await client.close()
  await fake.close()
})

function make(
  url: string,
  token: () => string | Promise<string> = () => 'tok-abc',
  requestTimeoutMs = 2_000,
) {
  return createRwxClient({
    url,
    token,
    userAgent: 'vault-relay/9.9.9',
    connectTimeoutMs: 1_000,
    requestTimeoutMs,
  })
}

describe('rwx client', () => {
  it('posts the documented request with auth, content type and user agent', async () => {
    const r = await client.setSecrets('payments', [
      { name: 'A', secret: 'one', description: 'first' },
      { name: 'B', secret: 'two' },
    ])
    expect(r).toEqual({
      kind: 'ok',
      set: new Set(['A', 'B']),
      versions: new Map([
        ['A', 1],
        ['B', 1],
      ]),
    })
    const req = fake.requests[0]!
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/mint/api/vaults/secrets')
    expect(req.headers.authorization).toBe('Bearer tok-abc')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['user-agent']).toBe('vault-relay/9.9.9')
    expect(req.body).toEqual({
      vault_name: 'payments',
      secrets: [
        { name: 'A', secret: 'one', description: 'first' },
        { name: 'B', secret: 'two' },
      ],
    })
  })

  it('reports versions that grow with each write', async () => {
    await client.setSecrets('payments', [{ name: 'A', secret: 'one' }])
    const r = await client.setSecrets('payments', [{ name: 'A', secret: 'two' }])
    expect(r).toMatchObject({ kind: 'ok', versions: new Map([['A', 2]]) })
    expect(fake.secrets('payments').get('A')).toEqual({ secret: 'two', version: 2 })
  })

  it('leaves out of set a name RWX did not confirm', async () => {
    fake.omitFromSetSecrets((n) => n === 'B')
    const r = await client.setSecrets('payments', [
      { name: 'A', secret: 'one' },
      { name: 'B', secret: 'two' },
    ])
    expect(r.kind === 'ok' && [...r.set]).toEqual(['A'])
  })

  it('reads the token on every request', async () => {
    let token = 'wrong'
    const c = make(fake.url, () => token)
    expect(await c.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({
      kind: 'auth',
      status: 401,
    })
    token = 'tok-abc'
    expect(await c.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({ kind: 'ok' })
    await c.close()
  })

  it('turns a token that cannot be read into an auth failure', async () => {
    const c = make(fake.url, () => Promise.reject(new Error('ENOENT /run/secrets/tok')))
    expect(await c.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'auth',
      status: 0,
      reason: 'RWX token could not be read',
    })
    expect(fake.requests).toHaveLength(0)
    await c.close()
  })

  it('treats 401 and 403 as auth failures', async () => {
    fake.failNext(1, { status: 403, body: { error: 'Missing authentication header' } })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'auth',
      status: 403,
      reason: 'Missing authentication header',
    })
    fake.setToken('rotated')
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'auth',
      status: 401,
      reason: 'Invalid authentication token',
    })
  })

  it('gives RWX own 400 message, and stores the valid secrets of the batch', async () => {
    const r = await client.setSecrets('payments', [
      { name: 'good', secret: 'v1' },
      { name: 'bad.name', secret: 'v2' },
    ])
    expect(r.kind).toBe('rejected')
    expect(r.kind === 'rejected' && r.reason).toMatch(/^Some secrets failed validation: bad\.name: /)
    // a name outside ^[A-Za-z0-9_-]+$ (never sent by the relay) is not one word: named as none
    expect(r.kind === 'rejected' && [...r.refused]).toEqual([])
    expect(fake.secrets('payments').get('good')?.secret).toBe('v1')
  })

  it.each([
    [{ errors: ['first problem', 'second problem'] }, 'first problem; second problem'],
    [{ error_messages: [{ message: 'frame says no', frame: 'x' }] }, 'frame says no'],
    ['<html>oops</html>', 'Unable to call RWX API - 400'],
    [undefined, 'Unable to call RWX API - 400'],
  ])('parses the 400 body %j', async (body, reason) => {
    fake.failNext(1, { status: 400, body })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'rejected',
      status: 400,
      reason,
      refused: new Set(),
    })
  })

  it('withholds an RWX message that quotes a value or the token, even in part or in another case', async () => {
    const withheld = 'RWX answered 400 (its message is withheld: it may quote a value)'
    for (const error of [
      'value hunter2-long for A is bad',
      'value HUNTER2-LONG for A is bad',
      'value starting hunt… is bad',
      'token tok-abc is bad',
    ]) {
      fake.failNext(1, { status: 400, body: { error } })
      const r = await client.setSecrets('payments', [{ name: 'A', secret: 'hunter2-long' }])
      expect(r).toMatchObject({ kind: 'rejected', status: 400, reason: withheld })
    }
  })

  it('names the secrets of the request that a 400 message names, as whole words in any case', async () => {
    fake.rejectNames((n) => n === 'BAD_ONE')
    const r = await client.setSecrets('payments', [
      { name: 'GOOD', secret: 'v1' },
      { name: 'BAD_ONE', secret: 'v2' },
      { name: 'BAD', secret: 'v3' },
    ])
    expect(r).toMatchObject({ kind: 'rejected', refused: new Set(['BAD_ONE']) })
    expect(
      namedIn('Some secrets failed validation: bad_one: too long; x-1: blank', ['BAD_ONE', 'X-1', 'X']),
    ).toEqual(new Set(['BAD_ONE', 'X-1']))
    expect(namedIn('validation failed', ['A', 'B'])).toEqual(new Set())
  })

  it('keeps a short RWX message that shares no run of 4 characters with a value', () => {
    expect(safeMessage('A: too  big\n', ['hunter2-long', 'tok-abc'])).toBe('A: too big')
    expect(safeMessage('A: value unter is bad', ['hunter2-long'])).toBeUndefined()
    // a value shorter than the run is matched whole
    expect(safeMessage('A: xyz refused', ['XyZ'])).toBeUndefined()
    expect(safeMessage('A: refused', ['XyZ'])).toBe('A: refused')
    // a long message is a body, not a reason
    expect(safeMessage('x'.repeat(MAX_RWX_MESSAGE + 1), [])).toBeUndefined()
  })

  it('says the vault is missing on 404, and is dead on other 4xx', async () => {
    expect(await client.setSecrets('nope', [{ name: 'A', secret: 'x' }])).toMatchObject({
      kind: 'missing-vault',
      status: 404,
      reason: expect.stringMatching(/^RWX answered 404: unknown vault\?/),
    })
    fake.failNext(1, { status: 404 })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'missing-vault',
      status: 404,
      reason: 'RWX answered 404: unknown vault?',
    })
    fake.failNext(1, { status: 413 })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({
      kind: 'dead',
      status: 413,
    })
  })

  it.each([408, 429, 500, 502, 503])('retries on %i', async (status) => {
    fake.failNext(1, { status, body: { error: 'busy' } })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'retry',
      status,
      reason: 'busy',
    })
  })

  it('reads Retry-After in seconds and as an HTTP-date', async () => {
    fake.failNext(1, { status: 429, retryAfter: 7 })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({
      kind: 'retry',
      retryAfterMs: 7_000,
    })
    fake.failNext(1, { status: 503, retryAfter: new Date(Date.now() + 60_000).toUTCString() })
    const r = await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])
    expect(r.kind === 'retry' && r.retryAfterMs).toBeGreaterThan(55_000)
  })

  it('does not follow redirects', async () => {
    fake.failNext(1, { status: 307, headers: { location: `${fake.url}/elsewhere` } })
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({
      kind: 'retry',
      status: 307,
    })
    expect(fake.requests).toHaveLength(1)
  })

  it('calls a 200 without set_secrets unconfirmed (the write may have happened)', async () => {
    for (const body of ['not json', { versions: {} }, {}]) {
      fake.failNext(1, { status: 200, body })
      expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
        kind: 'unconfirmed',
        status: 200,
        reason: 'RWX answered 200 without set_secrets (a proxy or a changed API?)',
      })
    }
  })

  it('retries when RWX is down, and works again once it is up', async () => {
    await fake.down()
    const r = await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])
    expect(r).toMatchObject({ kind: 'retry', reason: expect.stringMatching(/RWX|connection/) })
    await fake.up()
    expect(await client.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toMatchObject({ kind: 'ok' })
  })

  it('retries an answer slower than the request timeout', async () => {
    const c = make(fake.url, () => 'tok-abc', 150)
    fake.delay(1_000, 1)
    const started = Date.now()
    // the request went out and RWX may still apply it: an unknown outcome
    expect(await c.setSecrets('payments', [{ name: 'A', secret: 'x' }])).toEqual({
      kind: 'retry',
      reason: 'RWX request timed out',
      uncertain: true,
    })
    expect(Date.now() - started).toBeLessThan(600)
    await c.close()
  })

  it('gives a retry when the caller cancels', async () => {
    fake.delay(1_000, 1)
    const ac = new AbortController()
    const pending = client.setSecrets('payments', [{ name: 'A', secret: 'x' }], { signal: ac.signal })
    await fake.waitFor((_, requests) => requests.length === 1)
    ac.abort()
    expect(await pending).toMatchObject({ kind: 'retry', reason: expect.stringContaining('cancelled') })
  })
})

describe('rwx client, reading a secret back', () => {
  it('reads the version with a GET carrying the token, and 404 as missing', async () => {
    await client.setSecrets('payments', [{ name: 'DB_PASSWORD', secret: 'one' }])
    await client.setSecrets('payments', [{ name: 'DB_PASSWORD', secret: 'two' }])
    expect(await client.getSecret('payments', 'DB_PASSWORD')).toEqual({ kind: 'found', version: 2 })
    const req = fake.requests.at(-1)!
    expect(req.method).toBe('GET')
    expect(req.path).toBe('/mint/api/vaults/secrets/DB_PASSWORD?vault_name=payments')
    expect(req.headers.authorization).toBe('Bearer tok-abc')
    expect(req.headers['user-agent']).toBe('vault-relay/9.9.9')
    expect(await client.getSecret('payments', 'ABSENT')).toEqual({ kind: 'missing' })
  })

  it('reports a failure, without the token, for any other answer or a network error', async () => {
    fake.failNext(1, { status: 503, body: { error: 'down for tok-abc' } })
    expect(await client.getSecret('payments', 'X')).toEqual({
      kind: 'failed',
      status: 503,
      reason: 'RWX answered 503 (its message is withheld: it may quote a value)',
    })
    const gone = make('http://127.0.0.1:1')
    const r = await gone.getSecret('payments', 'X')
    expect(r.kind).toBe('failed')
    await gone.close()
  })
})
