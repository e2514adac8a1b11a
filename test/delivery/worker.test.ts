// The delivery worker on a real SQLite store and the fake RWX: batching, values, stop, logs.
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createSealer } from '../../src/queue/crypto.js'
import { allIn, createHarness, type Harness, TOKEN } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

describe('delivery worker', () => {
  it('sends a batch of secrets for one vault in one request', async () => {
    h = await createHarness()
    const id = await h.enqueue([
      { name: 'A', value: 'a-1' },
      { name: 'B', value: 'b-1' },
      { name: 'C', value: 'c-1' },
    ])
    await h.until(() => allIn(h, id, 'delivered'))
    expect(h.fake.requests).toHaveLength(1)
    expect(h.fake.requests[0]!.body).toMatchObject({ vault_name: 'payments' })
    const names = (h.fake.requests[0]!.body as { secrets: { name: string }[] }).secrets.map((s) => s.name)
    expect(names.sort()).toEqual(['A', 'B', 'C'])
    const records = await h.secrets(id)
    expect(records.map((s) => [s.name, s.rwxVersion, s.attempts])).toEqual([
      ['A', 1, 1],
      ['B', 1, 1],
      ['C', 1, 1],
    ])
    expect(records[0]!.fingerprint).toBe(h.sealer.fingerprint('a-1'))
  })

  it('sends different vaults in different requests', async () => {
    h = await createHarness()
    const id = await h.enqueue([
      { vault: 'payments', name: 'A', value: 'a' },
      { vault: 'search', name: 'A', value: 'b' },
    ])
    await h.until(() => allIn(h, id, 'delivered'))
    const vaults = h.fake.requests.map((r) => (r.body as { vault_name: string }).vault_name)
    expect(vaults.sort()).toEqual(['payments', 'search'])
    expect(h.fake.secrets('search').get('A')?.secret).toBe('b')
  })

  it('gathers secrets of several events in one request, bounded by batchSize', async () => {
    h = await createHarness({ config: { batchSize: 2 }, start: false })
    const ids = [
      await h.enqueue([{ name: 'A', value: '1' }]),
      await h.enqueue([{ name: 'B', value: '2' }]),
      await h.enqueue([{ name: 'C', value: '3' }]),
    ]
    h.worker.start()
    await h.until(async () => (await Promise.all(ids.map((id) => allIn(h, id, 'delivered')))).every(Boolean))
    expect(h.fake.requests.map((r) => (r.body as { secrets: unknown[] }).secrets.length).sort()).toEqual([
      1, 2,
    ])
  })

  it('delivers exactly the value that was sealed, with its description', async () => {
    h = await createHarness()
    const value = 'p@ss "wörd"\n\u{1F511} \\ end'
    const id = await h.enqueue([{ name: 'DB_PASSWORD', value, description: 'from test' }])
    await h.until(() => allIn(h, id, 'delivered'))
    expect(h.fake.secrets('payments').get('DB_PASSWORD')).toEqual({
      secret: value,
      version: 1,
      description: 'from test',
    })
  })

  it('sends the User-Agent, Authorization and Content-Type headers', async () => {
    h = await createHarness()
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    const headers = h.fake.requests[0]!.headers
    expect(headers['user-agent']).toBe('vault-relay/0.1.0')
    expect(headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(headers['content-type']).toBe('application/json')
  })

  it('makes a value sealed under another key dead without sending it', async () => {
    h = await createHarness()
    const id = await h.enqueue([{ name: 'A', value: 'x' }], { sealer: createSealer(randomBytes(32)) })
    await h.until(() => allIn(h, id, 'dead'))
    expect((await h.secrets(id))[0]!.lastError).toBe('cannot decrypt value: wrong encryption key?')
    expect(h.fake.requests).toHaveLength(0)
  })

  it('resolves references at delivery, and settles what the resolver says', async () => {
    h = await createHarness({
      resolver: {
        async resolve(ref) {
          if (!('secretId' in ref)) return { kind: 'dead', error: 'not an AWS reference' }
          if (ref.secretId === 'gone') return { kind: 'dead', error: 'AWS secret not found' }
          if (ref.secretId === 'old') return { kind: 'superseded', error: 'version is no longer current' }
          return { kind: 'value', value: `resolved-${ref.secretId}` }
        },
      },
    })
    const id = await h.enqueue([
      { name: 'A', ref: { secretId: 'db' } },
      { name: 'B', ref: { secretId: 'gone' } },
      { name: 'C', ref: { secretId: 'old' } },
      { name: 'D', value: 'sealed' },
    ])
    await h.until(() => allIn(h, id, 'delivered', 'dead', 'superseded'))
    expect((await h.secrets(id)).map((s) => [s.name, s.status])).toEqual([
      ['A', 'delivered'],
      ['B', 'dead'],
      ['C', 'superseded'],
      ['D', 'delivered'],
    ])
    expect(h.fake.requests).toHaveLength(1)
    expect(h.fake.secrets('payments').get('A')?.secret).toBe('resolved-db')
  })

  it('keeps retrying a reference without using attempts while the resolver says the fix is outside', async () => {
    let calls = 0
    h = await createHarness({
      config: { maxAttempts: 2 },
      resolver: {
        async resolve() {
          calls++
          if (calls <= 4) {
            return {
              kind: 'retry',
              error: 'CredentialsProviderError: refused',
              afterMs: 5,
              countAttempt: false,
            }
          }
          return { kind: 'value', value: 'after-credentials-fix' }
        },
      },
    })
    const id = await h.enqueue([{ name: 'A', ref: { secretId: 'db' } }])
    await h.until(() => allIn(h, id, 'delivered'))
    expect(calls).toBe(5)
    expect((await h.secrets(id))[0]!.attempts).toBe(1)
    expect(h.fake.secrets('payments').get('A')?.secret).toBe('after-credentials-fix')
  })

  it('retries recording outcomes through a short store outage instead of sending again', async () => {
    h = await createHarness({ start: false })
    const settle = h.store.settle.bind(h.store)
    let failures = 0
    h.store.settle = async (...args) => {
      if (failures < 2) {
        failures++
        throw new Error('store unavailable')
      }
      return settle(...args)
    }
    const id = await h.enqueue([{ name: 'A', value: 'once' }])
    h.worker.start()
    await h.until(() => allIn(h, id, 'delivered'))
    expect(failures).toBe(2)
    expect(h.fake.writes.filter((w) => w.name === 'A')).toHaveLength(1)
    expect(h.logs.join('\n')).toContain('could not record delivery outcomes; retrying')
  })

  it('makes references dead when there is no resolver', async () => {
    h = await createHarness()
    const id = await h.enqueue([{ name: 'A', ref: { secretId: 'db' } }])
    await h.until(() => allIn(h, id, 'dead'))
    expect((await h.secrets(id))[0]!.lastError).toBe('no resolver for AWS references')
  })

  it('wakes on notify without waiting for its poll', async () => {
    h = await createHarness({ pollMs: 60_000 })
    await new Promise((r) => setImmediate(r))
    const started = Date.now()
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'), 2_000)
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('reports requests and outcomes to the metrics hooks', async () => {
    const outcomes: string[] = []
    const requests: string[] = []
    h = await createHarness({
      events: {
        onOutcome: (kind, vault) => outcomes.push(`${kind}:${vault}`),
        onRequest: (status, n) => requests.push(`${status}:${n}`),
      },
    })
    h.fake.failNext(1, { status: 503 })
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.until(() => allIn(h, id, 'delivered'))
    await h.until(() => outcomes.length === 2)
    expect(requests).toEqual(['503:1', '200:1'])
    expect(outcomes).toEqual(['retry:payments', 'delivered:payments'])
  })

  it('stop() waits for the in-flight request and settles it', async () => {
    h = await createHarness()
    h.fake.delay(300)
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    await h.worker.stop()
    expect(h.fake.requests[0]!.status).toBe(200)
    expect((await h.secrets(id))[0]!.status).toBe('delivered')
  })

  it('stop({ abortAfterMs }) gives up on a slow RWX within that bound and queues the secret again', async () => {
    // the given-up secret's retry is due at once, so a claim shows whether its lease was given back
    h = await createHarness({ config: { requestTimeoutMs: 30_000, backoffBaseMs: 1, backoffMaxMs: 1 } })
    h.fake.delay(20_000)
    const id = await h.enqueue([{ name: 'A', value: 'x' }])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    const started = Date.now()
    await h.worker.stop({ abortAfterMs: 100 })
    // well under the request timeout (30 s) and the fake's delay (20 s)
    expect(Date.now() - started).toBeLessThan(10_000)
    const [secret] = await h.secrets(id)
    expect(secret).toMatchObject({ status: 'queued', lastError: 'request to RWX cancelled (shutting down)' })
    // its lease was given back, and its name fenced (RWX may still apply the abandoned write): another
    // worker takes it once that write can no longer land, and reads its next write back
    const now = Date.now()
    expect(await h.store.claim({ owner: 'other', now: now + 10, leaseMs: 1_000, limit: 10 })).toEqual([])
    const others = await h.store.claim({ owner: 'other', now: now + 60_100, leaseMs: 1_000, limit: 10 })
    expect(others.map((c) => [c.name, c.unconfirmed])).toEqual([['A', true]])
  })

  it('stop() releases the leases of batches it did not send', async () => {
    h = await createHarness({ config: { batchSize: 1, concurrency: 1 } })
    h.fake.delay(200)
    const id = await h.enqueue([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'C', value: '3' },
    ])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    await h.worker.stop()
    expect(h.fake.requests).toHaveLength(1)
    const others = await h.store.claim({ owner: 'other', now: Date.now(), leaseMs: 1_000, limit: 10 })
    expect(others.map((c) => c.name).sort()).toHaveLength(2)
    expect((await h.secrets(id)).filter((s) => s.status === 'delivered')).toHaveLength(1)
  })

  it('never logs the token, a value or sealed bytes', async () => {
    h = await createHarness()
    const values = ['v4lue-one-9d2e', 'v4lue-two-41ac', 'v4lue-bad-77f0']
    h.fake.failNext(1, { status: 400, body: { error: `secret ${values[2]} is refused (token ${TOKEN})` } })
    h.fake.failNext(1, { status: 401, body: { error: `bad token ${TOKEN}` } })
    h.fake.rejectNames((n) => n === 'BAD')
    const id = await h.enqueue([
      { name: 'A', value: values[0] },
      { name: 'B', value: values[1] },
      { name: 'BAD', value: values[2] },
    ])
    await h.until(() => allIn(h, id, 'delivered', 'dead'), 8_000)
    const text = h.logs.join('')
    expect(h.logs.length).toBeGreaterThan(3)
    expect(text).toContain('secret delivered to RWX')
    for (const secret of [TOKEN, ...values]) expect(text).not.toContain(secret)
    const sealed = h.sealer.seal(values[0]!, 'payments/A')
    expect(text).not.toContain(sealed.subarray(1, 13).toString('base64'))
    const dead = (await h.secrets(id)).find((s) => s.name === 'BAD')!
    expect(dead.status).toBe('dead')
    expect(JSON.stringify(dead)).not.toContain(values[2])
  })
})
