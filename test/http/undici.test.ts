// http/undici.ts: undici's own Agent, EnvHttpProxyAgent and request, loaded without its index.
import { spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as undiciIndex from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, EnvHttpProxyAgent, request } from '../../src/http/undici.js'

let server: Server
let url: string
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('http/undici.ts', () => {
  it('gives the classes undici exports', () => {
    expect(Agent).toBe(undiciIndex.Agent)
    expect(EnvHttpProxyAgent).toBe(undiciIndex.EnvHttpProxyAgent)
  })

  it('sends as undici’s request does: path and query, method, body, over the given dispatcher', async () => {
    const dispatcher = new Agent()
    try {
      for (const send of [request, undiciIndex.request]) {
        const get = await send(`${url}/a/b?x=1&y=2`, { dispatcher })
        expect(get.statusCode).toBe(200)
        expect(await get.body.json()).toEqual({ method: 'GET', url: '/a/b?x=1&y=2', body: '' })
        const post = await send(new URL(`${url}/p`), { dispatcher, method: 'POST', body: '{"k":1}' })
        expect(await post.body.json()).toEqual({ method: 'POST', url: '/p', body: '{"k":1}' })
        // A body without a method is a PUT, as undici has it.
        const put = await send(`${url}/q`, { dispatcher, body: 'v' })
        expect(await put.body.json()).toEqual({ method: 'PUT', url: '/q', body: 'v' })
      }
    } finally {
      await dispatcher.close()
    }
  })

  it('uses undici’s global dispatcher when none is given', async () => {
    const res = await request(`${url}/g`)
    expect(await res.body.json()).toEqual({ method: 'GET', url: '/g', body: '' })
  })

  it('keeps undici’s index (fetch, WebSocket, caches) out of a serving relay', () => {
    const script = `
      import { createRequire } from 'node:module'
      await import('./dist/server.js')
      await import('./dist/delivery/worker.js')
      const cache = Object.keys(createRequire(import.meta.url).cache)
      const { Agent } = await import('./dist/http/undici.js')
      console.log(JSON.stringify({
        index: cache.some((f) => f.endsWith('/node_modules/undici/index.js')),
        agent: cache.some((f) => f.endsWith('/node_modules/undici/lib/dispatcher/agent.js')),
        // ProxyAgent tunnels with connect: the index gives every dispatcher the API methods, so must this.
        api: ['request', 'connect', 'stream', 'pipeline', 'upgrade'].every(
          (m) => typeof Agent.prototype[m] === 'function',
        ),
      }))`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ index: false, agent: true, api: true })
  })
})
