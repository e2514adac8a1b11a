// The HTTP edge through the real app: proxy trust, Retry-After, request ids, load shedding, slow clients.
import { createHmac } from 'node:crypto'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'
import { until } from '../support/until.js'

const SECRET = 'edge-hmac-secret-do-not-leak'

const config = (extra = '') => `
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
${extra}`

const body = (n: number) => JSON.stringify({ name: `n${n}`, value: `value-${n}` })
const sign = (b: string) => ({
  'content-type': 'application/json',
  'x-sig': `sha256=${createHmac('sha256', SECRET).update(b).digest('hex')}`,
})

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

async function post(n: number, headers: Record<string, string> = {}) {
  const b = body(n)
  return h!.app.inject({ method: 'POST', url: '/hooks/ci', payload: b, headers: { ...sign(b), ...headers } })
}

describe('server.trustProxy', () => {
  it('with a hop count, a rotating X-Forwarded-For does not walk past the rate limit', async () => {
    h = await startHarness(config('rateLimit: { max: 2, windowSeconds: 60 }\nserver: { trustProxy: 1 }'))
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      // A client forges the left part; the one proxy in front appends the address it saw.
      const res = await post(i, { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7` })
      statuses.push(res.statusCode)
    }
    expect(statuses).toEqual([202, 202, 429, 429])
  })

  it('with CIDRs, the client is the first address from the right that is not a trusted proxy', async () => {
    h = await startHarness(
      config(
        'rateLimit: { max: 1, windowSeconds: 60 }\nserver: { trustProxy: ["127.0.0.1/8", "10.0.0.0/8"] }',
      ),
    )
    const a = await post(1, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.1.2.3' })
    const b = await post(2, { 'x-forwarded-for': '198.51.100.2, 203.0.113.7, 10.9.9.9' })
    const c = await post(3, { 'x-forwarded-for': '198.51.100.3, 203.0.113.8, 10.1.2.3' })
    expect([a.statusCode, b.statusCode, c.statusCode]).toEqual([202, 429, 202])
  })

  it('refuses a trustProxy that Fastify would not take', async () => {
    for (const bad of ['0', '"true"', '["10.0.0.0/33"]', '"10.0.0.1, nope"']) {
      await expect(startHarness(config(`server: { trustProxy: ${bad} }`)), bad).rejects.toThrow(
        /server\.trustProxy/,
      )
    }
  })

  it('takes an address string with several entries and proxy-addr names', async () => {
    h = await startHarness(config('server: { trustProxy: "loopback, 10.0.0.0/8, fd00::/8" }'))
    expect(h.config.server.trustProxy).toBe('loopback, 10.0.0.0/8, fd00::/8')
  })
})

describe('429', () => {
  it("carries the rate limiter's own Retry-After, not 1", async () => {
    h = await startHarness(config('rateLimit: { max: 1, windowSeconds: 120 }'))
    expect((await post(1)).statusCode).toBe(202)
    const res = await post(2)
    expect(res.statusCode).toBe(429)
    expect(res.headers['content-type']).toContain('application/problem+json')
    const retryAfter = Number(res.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(60)
    expect(retryAfter).toBeLessThanOrEqual(120)
  })
})

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id and logs with it', async () => {
    h = await startHarness(config('rateLimit: { max: 0 }'))
    const res = await post(1, { 'x-request-id': 'req-abc.123:4' })
    expect(res.headers['x-request-id']).toBe('req-abc.123:4')
    expect(h.logs()).toMatch(/"requestId":"req-abc\.123:4".*"msg":"hook answered"/)
  })

  it('replaces a missing, overlong or odd X-Request-Id with a UUID', async () => {
    h = await startHarness(config('rateLimit: { max: 0 }'))
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
    const given = [undefined, 'x'.repeat(129), 'bad id\twith "quotes"', '']
    for (const [i, id] of given.entries()) {
      // a webhook, so the answer is logged with the request id that was kept
      const res = await post(i + 1, id === undefined ? {} : { 'x-request-id': id })
      const echoed = String(res.headers['x-request-id'])
      expect(echoed).toMatch(uuid)
      expect(h.logs()).toContain(`"requestId":"${echoed}"`)
    }
    expect(h.logs()).not.toContain('x'.repeat(129))
    expect(h.logs()).not.toContain('bad id')
  })
})

describe('load shedding', () => {
  it('answers webhooks 503 + Retry-After problem+json under pressure, while /healthz still answers', async () => {
    h = await startHarness(
      config(
        'rateLimit: { max: 0 }\nserver: { loadShedding: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1, sampleIntervalMs: 100, retryAfterSeconds: 7 } }',
      ),
    )
    let res = await post(0)
    await until(async () => {
      res = await post(1)
      return res.statusCode === 503
    }, 'the first heap sample to put the relay under pressure')
    expect(res.headers['retry-after']).toBe('7')
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.json()).toMatchObject({ status: 503, code: 'ERR_OVERLOADED' })
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.body).toMatch(/relay_load_shed_total\{reason="heapUsedBytes"\} [1-9]/)
  })

  it('sheds nothing with the defaults on an idle relay', async () => {
    h = await startHarness(config('rateLimit: { max: 0 }'))
    expect((await post(1)).statusCode).toBe(202)
  })
})

describe('slow clients', () => {
  it('a client dribbling its body is answered 408 and cut off after server.requestTimeout', async () => {
    h = await startHarness(config('rateLimit: { max: 0 }\nserver: { requestTimeout: 300 }'))
    const address = await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = new URL(address)
    const socket = connect(Number(port), '127.0.0.1')
    let answer = ''
    let closed = false
    let sent = 0
    socket.on('data', (d) => {
      answer += String(d)
    })
    socket.on('close', () => {
      closed = true
    })
    socket.on('error', () => {})
    socket.write(
      'POST /hooks/ci HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
    )
    // One byte every 50 ms: 50 s for the whole body, unless the relay cuts it off.
    const dribble = setInterval(() => {
      if (!socket.destroyed && !closed) {
        socket.write('x')
        sent++
      }
    }, 50)
    try {
      await until(() => closed, 'the relay to close the slow connection', 20_000)
    } finally {
      clearInterval(dribble)
      socket.destroy()
    }
    expect(sent).toBeLessThan(1000)
    expect(answer).toMatch(/^HTTP\/1\.1 408/)
  })
})

describe('idle connections', () => {
  it('a connection that sends nothing is closed after server.connectionTimeout', async () => {
    h = await startHarness(config('server: { connectionTimeout: 300, requestTimeout: 30000 }'))
    const address = await h.app.listen({ host: '127.0.0.1', port: 0 })
    const socket = connect(Number(new URL(address).port), '127.0.0.1')
    let closed = false
    socket.on('close', () => {
      closed = true
    })
    socket.on('error', () => {})
    try {
      await until(() => closed, 'the relay to close the idle connection', 10_000)
    } finally {
      socket.destroy()
    }
    expect(closed).toBe(true)
  })
})

describe('logs and metrics', () => {
  it('logs a refusal of an unknown source, cut short', async () => {
    h = await startHarness(config())
    const res = await h.app.inject({ method: 'POST', url: `/hooks/${'p'.repeat(100)}`, payload: '{}' })
    expect(res.statusCode).toBe(404)
    expect(h.logs()).toContain('hook refused: unknown source')
    expect(h.logs()).toContain(`"example":"${'p'.repeat(64)}"`)
    expect(h.logs()).not.toContain('p'.repeat(65))
  })

  it('exposes the process and Node.js default metrics with the relay_ prefix', async () => {
    h = await startHarness(config())
    const res = await h.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.body).toContain('relay_process_cpu_user_seconds_total')
    expect(res.body).toContain('relay_nodejs_heap_size_used_bytes')
    expect(res.body).toContain('relay_process_resident_memory_bytes')
    expect(res.body).not.toMatch(/^process_cpu_user_seconds_total/m)
  })
})
