import { createHmac } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'
import { until } from '../support/until.js'

const SECRET = 'hmac-signing-secret-do-not-leak'
const VALUE = 'the-rotated-password-do-not-leak'

const config = (extra = '') => `
rateLimit: { max: 0 }
sources:
  - id: ci
    bodyLimit: 2048
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${SECRET}"] }
    rules:
      - when: { /type: rotated }
        secrets:
          - vault: ci
            name: "{{ /name | upper }}"
            value: /value
${extra}`

function sign(body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-sig': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
  }
}

let h: Harness
afterEach(async () => h?.close())

async function post(body: string, headers = sign(body), source = 'ci') {
  return h.app.inject({ method: 'POST', url: `/hooks/${source}`, payload: body, headers })
}

describe('POST /hooks/:source', () => {
  it('answers 202 after the secrets are durably queued', async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'db_password', value: VALUE })
    const res = await post(body)
    expect(res.statusCode).toBe(202)
    expect(res.json()).toMatchObject({ secrets: 1 })
    const event = await h.store.getEvent('ci', res.json().event)
    expect(event?.secrets?.map((s) => [s.vault, s.name, s.status])).toEqual([['ci', 'DB_PASSWORD', 'queued']])
    expect(h.notified).toBe(1)
  })

  it('answers 200 duplicate for the same event and queues nothing', async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'a', value: VALUE })
    expect((await post(body)).statusCode).toBe(202)
    const again = await post(body)
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({ duplicate: true })
    expect((await h.store.counts()).queued).toBe(1)
  })

  it('answers 200 with secrets 0 when no rule matches', async () => {
    h = await startHarness(config())
    const res = await post(JSON.stringify({ type: 'other' }))
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ secrets: 0 })
  })

  it('answers 400 for a signed body that is not JSON', async () => {
    h = await startHarness(config())
    const res = await post('{not json')
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('answers 401 for a bad signature, with a problem that quotes nothing', async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'a', value: VALUE })
    const res = await post(body, { 'content-type': 'application/json', 'x-sig': `sha256=${'0'.repeat(64)}` })
    expect(res.statusCode).toBe(401)
    const p = res.json()
    expect(p).toMatchObject({ status: 401, title: 'Unauthorized' })
    expect(typeof p.type).toBe('string')
    expect(typeof p.detail).toBe('string')
    expect(res.body).not.toContain(VALUE)
    expect(res.body).not.toContain(SECRET)
  })

  it('answers 401 when the signature header is missing', async () => {
    h = await startHarness(config())
    const res = await post('{}', { 'content-type': 'application/json' })
    expect(res.statusCode).toBe(401)
  })

  it('answers 404 for an unknown source', async () => {
    h = await startHarness(config())
    const res = await post('{}', sign('{}'), 'nope')
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it("answers 413 for a body over the source's limit", async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'a', value: 'x'.repeat(4096) })
    const res = await post(body)
    expect(res.statusCode).toBe(413)
  })

  it("stops reading a chunked body at the small source's own limit, below the largest source's", async () => {
    h = await startHarness(
      config(`  - id: big
    bodyLimit: 16777216
    verify: { type: api-key, header: x-key, keys: ["k"] }
`),
    )
    const served: Socket[] = []
    h.app.server.on('connection', (s: Socket) => served.push(s))
    await h.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = h.app.server.address() as { port: number }

    const total = 12 * 1024 * 1024
    const chunk = 'x'.repeat(16 * 1024)
    const client = connect(port, '127.0.0.1')
    let response = ''
    let closed = false
    const ended = new Promise<void>((resolve) => {
      client.on('data', (d) => {
        response += String(d)
        resolve()
      })
      client.on('close', () => {
        closed = true
        resolve()
      })
    })
    client.on('error', () => {})
    const write = (text: string) =>
      Promise.race([new Promise<void>((resolve) => client.write(text, () => resolve())), ended])
    // The small source 'ci' takes 2048 bytes, the big one 16 MiB. Send up to 12 MiB, chunk by chunk, more
    // than loopback socket buffers hold: the relay must close before all of it was sent.
    await write('POST /hooks/ci HTTP/1.1\r\nhost: relay\r\ncontent-type: application/json\r\n')
    await write('transfer-encoding: chunked\r\n\r\n')
    let sent = 0
    while (sent < total && response === '' && !closed) {
      await write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
      sent += chunk.length
    }
    try {
      await until(() => closed, 'the relay to close the connection after its 413', 5_000)
    } finally {
      client.destroy()
      h.app.server.closeAllConnections()
    }
    expect(response).toMatch(/^HTTP\/1\.1 413 /)
    expect(response).toContain('application/problem+json')
    expect(sent).toBeLessThan(total)
    // What the relay read from the socket, headers included: its first reads, not the body.
    const read = served.reduce((n, s) => n + s.bytesRead, 0)
    expect(read).toBeLessThan(1024 * 1024)
  })

  it('answers 422 for a verified event it cannot map, without quoting the value', async () => {
    h = await startHarness(config())
    const res = await post(JSON.stringify({ type: 'rotated', name: 'bad name!', value: VALUE }))
    expect(res.statusCode).toBe(422)
    expect(res.body).not.toContain(VALUE)
    const missing = await post(JSON.stringify({ type: 'rotated', name: 'ok' }))
    expect(missing.statusCode).toBe(422)
    expect(missing.json().detail).toContain('/value')
  })

  it('answers 429 with Retry-After past the per-source limit', async () => {
    h = await startHarness(
      config().replace('rateLimit: { max: 0 }', 'rateLimit: { max: 2, windowSeconds: 60 }'),
    )
    const body = JSON.stringify({ type: 'other' })
    expect((await post(body)).statusCode).toBe(200)
    expect((await post(body)).statusCode).toBe(200)
    const limited = await post(body)
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('keeps a limited client limited after 6,000 requests to made-up source names', async () => {
    h = await startHarness(
      config().replace('rateLimit: { max: 0 }', 'rateLimit: { max: 2, windowSeconds: 60 }'),
    )
    const body = JSON.stringify({ type: 'other' })
    expect((await post(body)).statusCode).toBe(200)
    expect((await post(body)).statusCode).toBe(200)
    expect((await post(body)).statusCode).toBe(429)
    for (let i = 0; i < 6_000; i += 1) {
      const res = await post('{}', { 'content-type': 'application/json' }, `made-up-${i}`)
      expect(res.statusCode).toBe(404)
    }
    const still = await post(body)
    expect(still.statusCode).toBe(429)
    expect(still.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('keeps a limited client limited while 6,000 other addresses post to another source', async () => {
    h = await startHarness(
      config(`  - id: other
    verify: { type: api-key, header: x-key, keys: ["k"] }
`).replace('rateLimit: { max: 0 }', 'rateLimit: { max: 2, windowSeconds: 60 }'),
    )
    const body = JSON.stringify({ type: 'other' })
    for (const expected of [200, 200, 429]) expect((await post(body)).statusCode).toBe(expected)
    for (let i = 0; i < 6_000; i += 1) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/hooks/other',
        payload: '{}',
        headers: { 'content-type': 'application/json', 'x-key': 'wrong' },
        remoteAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      })
      expect(res.statusCode).toBe(401)
    }
    expect((await post(body)).statusCode).toBe(429)
  })

  it('answers 503 with Retry-After when the store cannot take the event, and keeps serving', async () => {
    h = await startHarness(config())
    await h.store.close()
    const res = await post(JSON.stringify({ type: 'rotated', name: 'a', value: VALUE }))
    expect(res.statusCode).toBe(503)
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503)
  })

  it('reads text/plain and unknown content types as raw bytes', async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'a', value: VALUE })
    const res = await post(body, { ...sign(body), 'content-type': 'text/plain; charset=UTF-8' })
    expect(res.statusCode).toBe(202)
    const res2 = await post(JSON.stringify({ type: 'other', n: 1 }), {
      ...sign(JSON.stringify({ type: 'other', n: 1 })),
      'content-type': 'application/x-anything',
    })
    expect(res2.statusCode).toBe(200)
  })

  it('never logs the value or the signing secret, even at trace', async () => {
    h = await startHarness(config())
    const body = JSON.stringify({ type: 'rotated', name: 'a', value: VALUE })
    await post(body)
    await post(JSON.stringify({ type: 'rotated', name: 'bad name!', value: VALUE }))
    const logs = h.logs()
    expect(logs).toContain('hook answered')
    expect(logs).not.toContain(VALUE)
    expect(logs).not.toContain(SECRET)
  })

  it('counts answers and refusals in /metrics with fixed labels', async () => {
    h = await startHarness(config())
    await post(JSON.stringify({ type: 'rotated', name: 'a', value: VALUE }))
    await post('{}', { 'content-type': 'application/json', 'x-sig': 'sha256=00' })
    const res = await h.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('relay_hook_requests_total{source="ci",status="202"} 1')
    expect(res.body).toMatch(/relay_hook_refusals_total\{source="ci",code="ERR_SIGNATURE_INVALID"\} 1/)
    expect(res.body).toContain('relay_queue_secrets{status="queued"} 1')
    expect(res.body).not.toContain(VALUE)
  })
})
