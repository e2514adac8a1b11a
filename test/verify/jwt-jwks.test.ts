import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { FETCH_FAILURE_TTL_MS } from '../../src/http/get.js'
import { createVerifier, type VerifierDeps } from '../../src/verify/registry.js'
import {
  generateSigningKey,
  type JwksServer,
  makeJwt,
  type SigningKey,
  startJwksServer,
} from '../support/signers.js'
import { until } from '../support/until.js'

const NOW = 1_893_456_000_000
const T = NOW / 1000
const CLAIMS = {
  iss: 'https://k8s.example',
  aud: 'vault-relay',
  sub: 'system:serviceaccount:ops:rotator',
  iat: T,
  exp: T + 600,
}
let current: SigningKey
let next: SigningKey
const servers: JwksServer[] = []

beforeAll(async () => {
  current = await generateSigningKey('ES256', 'key-2029')
  next = await generateSigningKey('ES256', 'key-2030')
})

afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(keys = [current.publicJwk]) {
  const server = await startJwksServer(keys)
  servers.push(server)
  return server
}

function jwks(url: string, deps: VerifierDeps = {}) {
  const config = {
    type: 'jwt',
    jwksUrl: url,
    issuer: 'https://k8s.example',
    audience: 'vault-relay',
    algorithms: ['ES256'],
  }
  return createVerifier(verifySchema.parse(config), deps)
}

const input = (token: string) => ({ headers: {}, body: Buffer.from(token), now: NOW })

describe('jwt verifier with a remote JWKS', () => {
  it('verifies with keys fetched from jwksUrl, and caches them', async () => {
    const server = await serve()
    const verifier = jwks(server.url)
    await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).resolves.toMatchObject({
      payload: CLAIMS,
    })
    await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).resolves.toBeDefined()
    expect(server.requests).toBe(1)
  })

  it('refetches on an unknown kid after the cooldown, so a rotated key is picked up', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await serve()
    const verifier = jwks(server.url)
    await verifier.verify(input(await makeJwt(CLAIMS, current)))
    server.setKeys([current.publicJwk, next.publicJwk])

    const rotated = await makeJwt(CLAIMS, next)
    await expect(verifier.verify(input(rotated))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'no matching signing key',
    })
    expect(server.requests).toBe(1)

    vi.setSystemTime(Date.now() + 31_000)
    await expect(verifier.verify(input(rotated))).resolves.toMatchObject({ payload: CLAIMS })
    expect(server.requests).toBe(2)
  })

  it('refuses a token signed by a key the JWKS does not hold', async () => {
    const server = await serve()
    const stranger = await generateSigningKey('ES256', 'key-2029')
    await expect(jwks(server.url).verify(input(await makeJwt(CLAIMS, stranger)))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
    })
  })

  it('tries each key when several match a token without kid', async () => {
    const server = await serve([
      { ...current.publicJwk, kid: undefined },
      { ...next.publicJwk, kid: undefined },
    ])
    const token = await makeJwt(CLAIMS, { alg: 'ES256', privateKey: next.privateKey })
    await expect(jwks(server.url).verify(input(token))).resolves.toMatchObject({ payload: CLAIMS })
  })

  it('answers 503 "signing keys unavailable" when the JWKS answers an error', async () => {
    const server = await serve()
    server.setStatus(500)
    await expect(jwks(server.url).verify(input(await makeJwt(CLAIMS, current)))).rejects.toMatchObject({
      code: 'ERR_KEYS_UNAVAILABLE',
      status: 503,
      message: 'signing keys unavailable',
    })
  })

  it('answers 503 "signing keys unavailable" when nothing listens at jwksUrl', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise((resolve) => closed.close(resolve))
    const verifier = jwks(`http://127.0.0.1:${port}/jwks.json`)
    await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).rejects.toMatchObject({
      code: 'ERR_KEYS_UNAVAILABLE',
      status: 503,
      message: 'signing keys unavailable',
    })
  })

  it('refuses a JWKS over 256 KiB and stops reading it', async () => {
    // A valid key set holding the signing key, padded and streamed (with backpressure) up to 32 MiB.
    const total = 32 * 1024 * 1024
    let written = 0
    let finished = false
    const big = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(`{"keys":[${JSON.stringify(current.publicJwk)}],"pad":"`)
      const chunk = 'x'.repeat(64 * 1024)
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        if (!res.destroyed) res.end('"}', () => (finished = true))
      }
      res.on('close', () => (finished = true))
      pump()
    })
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
    const { port } = big.address() as AddressInfo
    try {
      const verifier = jwks(`http://127.0.0.1:${port}/jwks.json`)
      const refused = await verifier.verify(input(await makeJwt(CLAIMS, current))).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 })
      expect(String((refused as Error).cause)).toContain('response over 262144 bytes')
      await until(() => finished, 'the JWKS server to stop writing')
      expect(written).toBeLessThan(total)
    } finally {
      big.closeAllConnections()
      await new Promise((resolve) => big.close(resolve))
    }
  })

  it('fetches a failing jwksUrl once, however many tokens arrive, until the failure is 30 s old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await serve()
    server.setStatus(500)
    const verifier = jwks(server.url)
    for (let i = 0; i < 20; i += 1) {
      await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).rejects.toMatchObject({
        code: 'ERR_KEYS_UNAVAILABLE',
        status: 503,
      })
    }
    expect(server.requests).toBe(1)

    server.setStatus(200)
    vi.setSystemTime(Date.now() + FETCH_FAILURE_TTL_MS + 1_000)
    await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).resolves.toMatchObject({
      payload: CLAIMS,
    })
    expect(server.requests).toBe(2)
  })

  it('does not refetch for every unknown kid while the key server fails', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await serve()
    const verifier = jwks(server.url)
    await verifier.verify(input(await makeJwt(CLAIMS, current)))
    server.setStatus(500)
    vi.setSystemTime(Date.now() + 31_000)
    for (let i = 0; i < 20; i += 1) {
      await expect(verifier.verify(input(await makeJwt(CLAIMS, next)))).rejects.toMatchObject({
        code: 'ERR_KEYS_UNAVAILABLE',
      })
    }
    expect(server.requests).toBe(2)
    // A known kid still verifies from the keys already held.
    await expect(verifier.verify(input(await makeJwt(CLAIMS, current)))).resolves.toBeDefined()
    expect(server.requests).toBe(2)
  })

  it('fetches the JWKS through the injected fetch', async () => {
    const server = await serve()
    const seen: string[] = []
    const counting: typeof fetch = (resource, init) => {
      seen.push(String(resource))
      return fetch(resource, init)
    }
    await expect(
      jwks(server.url, { fetch: counting }).verify(input(await makeJwt(CLAIMS, current))),
    ).resolves.toBeDefined()
    expect(seen).toEqual([server.url])
  })
})
