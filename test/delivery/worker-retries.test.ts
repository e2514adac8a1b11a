// The delivery worker when RWX fails: backoff, Retry-After, auth, refused batches, limits, timeouts.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness, TOKEN } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const sizes = (h: Harness) =>
  h.fake.requests
    .filter((r) => r.method === 'POST')
    .map((r) => (r.body as { secrets: unknown[] }).secrets.length)

describe('delivery worker retries', () => {
  it('retries 500s with backoff until RWX accepts', async () => {
    h = await createHarness()
    h.fake.failNext(2, { status: 500, body: { error: 'internal' } })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    expect(h.fake.requests.map((r) => r.status)).toEqual([500, 500, 200])
    expect((await h.secrets(id))[0]).toMatchObject({ attempts: 3, rwxVersion: 1, lastError: 'internal' })
  })

  it('does not try again before Retry-After', async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 429, retryAfter: 1 })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    const [first, second] = h.fake.requests
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })

  it('keeps retrying a refused token without using attempts, until the token works', async () => {
    h = await createHarness({ config: { maxAttempts: 2 } })
    h.fake.setToken('rotated-elsewhere')
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.fake.waitFor((_, requests) => requests.filter((r) => r.status === 401).length >= 3, 8_000)
    // RWX's 'Invalid authentication token' shares 'toke' with this token (rwx-token-…): withheld
    expect(h.worker.status()).toMatchObject({
      authFailing: true,
      lastError: 'RWX answered 401 (its message is withheld: it may quote a value)',
    })
    const [queued] = await h.secrets(id)
    expect(queued).toMatchObject({ status: 'queued', attempts: 0 })
    h.fake.setToken(TOKEN)
    await h.until(() => allIn(h, id, 'delivered'), 5_000)
    expect(h.worker.status()).toMatchObject({ authFailing: false, lastSuccessAt: expect.any(Number) })
    expect((await h.secrets(id))[0]!.attempts).toBe(1)
  })

  it('waits authRetrySeconds between tries while the token is refused', async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 403 })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    const [first, second] = h.fake.requests
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })

  it('splits a refused batch: the good secrets are delivered, the bad one dead with RWX message', async () => {
    h = await createHarness()
    h.fake.rejectNames((n) => n === 'BAD')
    const id = await h.enqueue([
      { name: 'GOOD1', value: '1' },
      { name: 'BAD', value: '2' },
      { name: 'GOOD2', value: '3' },
    ])
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    const records = await h.secrets(id)
    expect(records.map((s) => [s.name, s.status])).toEqual([
      ['GOOD1', 'delivered'],
      ['BAD', 'dead'],
      ['GOOD2', 'delivered'],
    ])
    expect(records[1]!.lastError).toMatch(/^Some secrets failed validation: BAD: name can only include/)
    expect(records[1]!.attempts).toBe(0)
    // RWX named BAD: the good ones it stored are read back, not sent again; BAD goes alone
    expect(sizes(h)).toEqual([3, 1])
    expect(h.fake.writes.map((w) => w.name).sort()).toEqual(['GOOD1', 'GOOD2'])
  })

  it('gives up after maxAttempts and records the last reason', async () => {
    h = await createHarness({ config: { maxAttempts: 3 } })
    h.fake.failNext(10, { status: 503, body: { error: 'maintenance' } })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'dead'))
    expect(h.fake.requests).toHaveLength(3)
    expect((await h.secrets(id))[0]!.lastError).toBe('gave up after 3 attempts: maintenance')
  })

  it('gives up on a secret older than maxAgeSeconds after a failure', async () => {
    h = await createHarness({ config: { maxAgeSeconds: 60 } })
    h.fake.failNext(1, { status: 502 })
    const id = await h.enqueue([{ name: 'A', value: 'x' }], { receivedAt: Date.now() - 120_000 })
    await h.until(() => allIn(h, id, 'dead'))
    expect((await h.secrets(id))[0]!.lastError).toBe('gave up after 1 attempts: Unable to call RWX API - 502')
  })

  it('is dead at once when RWX answers another 4xx (413)', async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 413 })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'dead'))
    expect((await h.secrets(id))[0]!.lastError).toBe('Unable to call RWX API - 413')
    expect(h.fake.requests).toHaveLength(1)
  })

  it('retries a name RWX left out of set_secrets', async () => {
    h = await createHarness()
    let omitted = 0
    h.fake.omitFromSetSecrets((n) => n === 'B' && omitted++ === 0)
    const id = await h.enqueue([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ])
    await h.until(() => allIn(h, id, 'delivered'))
    const records = await h.secrets(id)
    expect(records.map((s) => [s.name, s.attempts])).toEqual([
      ['A', 1],
      ['B', 2],
    ])
    expect(records[1]!.lastError).toBe('RWX did not confirm the secret')
    expect(h.fake.secrets('payments').get('B')?.secret).toBe('2')
  })

  it('retries an answer slower than requestTimeoutMs', async () => {
    // the timed-out write may still land: the name is fenced for uncertainWriteSeconds before it goes again
    h = await createHarness({ config: { requestTimeoutMs: 200, uncertainWriteSeconds: 1 } })
    h.fake.delay(600, 1)
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    const [record] = await h.secrets(id)
    expect(record).toMatchObject({ attempts: 2, lastError: 'RWX request timed out' })
  })

  it('keeps secrets through an RWX outage and delivers them when it is back', async () => {
    h = await createHarness({ config: { maxAttempts: 1000 } })
    await h.fake.down()
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(async () => ((await h.secrets(id))[0]?.attempts ?? 0) >= 2)
    expect((await h.secrets(id))[0]).toMatchObject({
      status: 'queued',
      lastError: expect.stringMatching(/RWX/),
    })
    await h.fake.up()
    await h.until(() => allIn(h, id, 'delivered'))
    expect(h.fake.secrets('payments').get('A')?.secret).toBe('x')
  })
})
