// The bounded outbound GET, over undici and over an injected fetch: no redirect, a size cap, a timeout.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  FETCH_FAILURE_TTL_MS,
  fetchGet,
  type HttpGet,
  rememberFailure,
  undiciGet,
} from '../../src/http/get.js'

let server: Server
let base: string
const seen: { url: string; authorization: string | undefined }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
    if (req.url === '/ok') res.end('hello')
    else if (req.url === '/big') res.end('x'.repeat(2048))
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end()
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 2_000).unref()
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  seen.length = 0
})

describe.each<[string, () => HttpGet]>([
  ['undici', () => undiciGet()],
  ['an injected fetch', () => fetchGet(globalThis.fetch)],
])('bounded GET over %s', (_, make) => {
  const limits = { timeoutMs: 1_000, maxBytes: 1024 }

  it('gives the status and body, sending the given headers', async () => {
    const res = await make()(`${base}/ok`, { ...limits, headers: { authorization: 'Bearer t' } })
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe('hello')
    expect(seen).toEqual([{ url: '/ok', authorization: 'Bearer t' }])
  })

  it('answers a redirect as it came and does not follow it', async () => {
    const res = await make()(`${base}/moved`, limits)
    expect(res.status).toBe(302)
    expect(seen.map((s) => s.url)).toEqual(['/moved'])
  })

  it('refuses a body over maxBytes', async () => {
    await expect(make()(`${base}/big`, limits)).rejects.toThrow('response over 1024 bytes')
  })

  it('gives up after timeoutMs', async () => {
    const started = Date.now()
    await expect(make()(`${base}/slow`, { ...limits, timeoutMs: 200 })).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(1_500)
  })
})

describe('rememberFailure', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('shares one call among callers while it runs, and calls again after a success', async () => {
    let calls = 0
    const load = rememberFailure(async () => ++calls)
    expect(await Promise.all([load(), load(), load()])).toEqual([1, 1, 1])
    expect(await load()).toBe(2)
  })

  it('gives a failure to every caller for FETCH_FAILURE_TTL_MS without calling again, then calls again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    let calls = 0
    const load = rememberFailure(async () => {
      calls++
      if (calls === 1) throw new Error('key server down')
      return 'keys'
    })
    await expect(load()).rejects.toThrow('key server down')
    vi.setSystemTime(Date.now() + FETCH_FAILURE_TTL_MS - 1)
    await expect(load()).rejects.toThrow('key server down')
    expect(calls).toBe(1)
    vi.setSystemTime(Date.now() + 1)
    expect(await load()).toBe('keys')
    expect(calls).toBe(2)
  })
})
