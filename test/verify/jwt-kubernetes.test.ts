// The jwt verifier's `kubernetes` issuers (OIDC discovery over TLS, several clusters, the pinned service
// account) and JWE bodies beside a Bearer token, against fake API servers that sign real tokens.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompactEncrypt } from 'jose'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { FETCH_FAILURE_TTL_MS } from '../../src/http/get.js'
import { createVerifier } from '../../src/verify/registry.js'
import type { Verifier } from '../../src/verify/types.js'
import { type FakeKubeApi, kubernetesVerifyConfig, startFakeKubeApi } from '../support/fake-kube-api.js'
import { type EncryptionKey, generateEncryptionKey } from '../support/signers.js'
import { issueTlsCertificate } from '../support/x509.js'

let east: FakeKubeApi
let west: FakeKubeApi
let relayKey: EncryptionKey
const dir = mkdtempSync(join(tmpdir(), 'relay-jwt-k8s-'))
const verifiers: Verifier[] = []

beforeAll(async () => {
  const [a, b] = await Promise.all([issueTlsCertificate(), issueTlsCertificate()])
  writeFileSync(join(dir, 'east.crt'), a.caPem)
  writeFileSync(join(dir, 'west.crt'), b.caPem)
  ;[east, west, relayKey] = await Promise.all([
    startFakeKubeApi(a),
    startFakeKubeApi(b),
    generateEncryptionKey(),
  ])
})
afterAll(async () => {
  for (const v of verifiers) v.close?.()
  await Promise.all([east?.close(), west?.close()])
  rmSync(dir, { recursive: true, force: true })
})

function verifier(options: { tokenFile?: string; decrypt?: boolean; westCa?: string } = {}) {
  const v = createVerifier(
    kubernetesVerifyConfig(
      [
        {
          issuer: east.issuer,
          caFile: join(dir, 'east.crt'),
          ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
        },
        { issuer: west.issuer, caFile: options.westCa ?? join(dir, 'west.crt') },
      ],
      options.decrypt ? { decryptionKeys: [relayKey.privateJwk] } : {},
    ),
  )
  verifiers.push(v)
  return v
}

const json = Buffer.from(JSON.stringify({ type: 'secret.changed', data: { password: 'p' } }))
const call = (v: Verifier, token: string, body = json) =>
  v.verify({ headers: { authorization: `Bearer ${token}` }, body, now: Date.now() })

describe('jwt verifier, kubernetes issuers', () => {
  it('accepts the service account from either cluster, keys found by discovery over the cluster CA', async () => {
    const v = verifier()
    await expect(call(v, await east.token())).resolves.toEqual({
      payload: JSON.parse(String(json)),
      keyId: expect.stringMatching(/^jwks kid:./),
    })
    await expect(call(v, await west.token())).resolves.toMatchObject({ payload: { type: 'secret.changed' } })
    expect(east.requests).toContain('GET /.well-known/openid-configuration')
    expect(east.requests).toContain('GET /openid/v1/jwks')
  })

  it.each([
    ['another service account', { serviceAccount: 'intruder' }, 'ERR_CLAIM_MISMATCH'],
    ['another namespace', { namespace: 'kube-system' }, 'ERR_CLAIM_MISMATCH'],
    ['another audience', { audience: 'https://kubernetes.default.svc' }, 'ERR_CLAIM_MISMATCH'],
    ['an expired token', { expiresIn: -300 }, 'ERR_TIMESTAMP_STALE'],
    ['a key the cluster does not publish', { foreignKey: true }, 'ERR_TOKEN_INVALID'],
  ])('refuses %s', async (_what, options, code) => {
    await expect(call(verifier(), await east.token(options))).rejects.toMatchObject({ code, status: 401 })
  })

  it('refuses a cluster it was not given, and one cluster’s key for the other’s issuer', async () => {
    const v = verifier()
    const other = await startFakeKubeApi(await issueTlsCertificate())
    try {
      await expect(call(v, await other.token())).rejects.toMatchObject({ code: 'ERR_CLAIM_MISMATCH' })
    } finally {
      await other.close()
    }
    // A west-signed token claiming east as issuer: checked with east's keys only.
    const forged = await west.token()
    const [h, p, s] = forged.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const relabelled = Buffer.from(JSON.stringify({ ...claims, iss: east.issuer })).toString('base64url')
    await expect(call(v, `${h}.${relabelled}.${s}`)).rejects.toMatchObject({ status: 401 })
  })

  it('fetches discovery and JWKS with the token file where they are not anonymous; without it, 503', async () => {
    const reader = await east.token({ namespace: 'vault-relay', serviceAccount: 'vault-relay' })
    east.requireTokenForJwks(reader)
    try {
      await expect(call(verifier(), await east.token())).rejects.toMatchObject({
        code: 'ERR_KEYS_UNAVAILABLE',
        status: 503,
      })
      writeFileSync(join(dir, 'reader-token'), reader)
      const v = verifier({ tokenFile: join(dir, 'reader-token') })
      await expect(call(v, await east.token())).resolves.toMatchObject({
        payload: { type: 'secret.changed' },
      })
    } finally {
      east.requireTokenForJwks(undefined)
    }
  })

  it('fetches a failing discovery once for 20 tokens, and again once the failure is 30 s old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const discoveries = () => east.requests.filter((r) => r.endsWith('/openid-configuration')).length
    east.requireTokenForJwks(await east.token({ namespace: 'vault-relay', serviceAccount: 'vault-relay' }))
    try {
      const v = verifier()
      const before = discoveries()
      for (let i = 0; i < 20; i += 1) {
        await expect(call(v, await east.token())).rejects.toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE' })
      }
      expect(discoveries() - before).toBe(1)
      east.requireTokenForJwks(undefined)
      vi.setSystemTime(Date.now() + FETCH_FAILURE_TTL_MS + 1_000)
      await expect(call(v, await east.token())).resolves.toMatchObject({
        payload: { type: 'secret.changed' },
      })
      expect(discoveries() - before).toBe(2)
    } finally {
      east.requireTokenForJwks(undefined)
      vi.useRealTimers()
    }
  })

  it('sends the token file to the issuer, never to a configured JWKS mirror on another origin', async () => {
    const ca = readFileSync(join(dir, 'east.crt'))
    const agent = new Agent({ connect: { ca } })
    const jwks = await (await request(`${east.issuer}/openid/v1/jwks`, { dispatcher: agent })).body.text()
    await agent.close()
    const seen: (string | undefined)[] = []
    const mirror = createServer((req, res) => {
      seen.push(req.headers.authorization)
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks)
    })
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve))
    writeFileSync(join(dir, 'mirror-token'), 'cluster-reader-token')
    try {
      const v = createVerifier(
        kubernetesVerifyConfig([
          {
            issuer: east.issuer,
            jwksUrl: `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/jwks`,
            tokenFile: join(dir, 'mirror-token'),
          },
        ]),
      )
      verifiers.push(v)
      await expect(call(v, await east.token())).resolves.toMatchObject({
        payload: { type: 'secret.changed' },
      })
      expect(seen.length).toBeGreaterThan(0)
      expect(seen).toEqual(seen.map(() => undefined))
    } finally {
      await new Promise<void>((resolve) => mirror.close(() => resolve()))
    }
  })

  it('a server certificate the CA file did not issue is keys unavailable (503), never accepted', async () => {
    const v = verifier({ westCa: join(dir, 'east.crt') })
    await expect(call(v, await west.token())).rejects.toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE' })
  })

  it('decrypts a JWE body once the bearer is verified; its id and time are the event’s', async () => {
    const event = { id: 'uid-1:42', time: '2030-01-01T00:00:00.123Z', data: { password: 'p' } }
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(event)))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json' })
      .encrypt(relayKey.publicKey)
    const v = verifier({ decrypt: true })
    await expect(call(v, await east.token(), Buffer.from(jwe))).resolves.toEqual({
      payload: event,
      eventId: 'uid-1:42',
      eventTime: Date.parse(event.time),
      keyId: expect.stringMatching(/^jwks kid:./),
    })
    await expect(call(v, await east.token(), json)).rejects.toMatchObject({
      code: 'ERR_BODY_INVALID',
      message: 'body is not a compact JWE',
    })
    // The token is checked first: a bad one is refused whatever the body.
    await expect(call(v, await east.token({ serviceAccount: 'x' }), Buffer.from(jwe))).rejects.toMatchObject({
      code: 'ERR_CLAIM_MISMATCH',
    })
    const stranger = await generateEncryptionKey()
    const foreign = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(event)))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
      .encrypt(stranger.publicKey)
    await expect(call(v, await east.token(), Buffer.from(foreign))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: 'no key decrypted the body',
    })
  })
})

describe('jwt config, kubernetes', () => {
  const base = { type: 'jwt', in: 'header', audience: 'a', algorithms: ['RS256'] }
  it('needs no issuer or keys of its own, pins sub itself, and names a bad service account', () => {
    const k = { serviceAccount: 'ns:sa', issuers: [{ issuer: 'https://k8s.example' }] }
    expect(verifySchema.safeParse({ ...base, kubernetes: k }).success).toBe(true)
    expect(
      verifySchema.safeParse({ ...base, kubernetes: k, claims: { sub: 'x' } }).error?.issues[0]?.path,
    ).toEqual(['claims', 'sub'])
    const bad = verifySchema.safeParse({
      ...base,
      kubernetes: { ...k, serviceAccount: 'system:serviceaccount:ns:sa' },
    })
    expect(bad.error?.issues[0]?.message).toBe('must be <namespace>:<serviceaccount>')
    expect(verifySchema.safeParse(base).success).toBe(false)
    // A top-level issuer beside kubernetes needs its own keys.
    const mixed = verifySchema.safeParse({ ...base, kubernetes: k, issuer: 'https://other' })
    expect(mixed.error?.issues.map((i) => i.path.join('.'))).toEqual(['keys'])
    expect(
      verifySchema.safeParse({
        ...base,
        kubernetes: k,
        issuer: 'https://other',
        jwksUrl: 'https://other/jwks',
      }).success,
    ).toBe(true)
  })

  it('a CA file that cannot be read is a start-up error naming its path', () => {
    const config = verifySchema.parse({
      ...base,
      kubernetes: {
        serviceAccount: 'ns:sa',
        issuers: [{ issuer: 'https://k8s.example', caFile: join(dir, 'nope.crt') }],
      },
    })
    expect(() => createVerifier(config)).toThrow(`caFile ${join(dir, 'nope.crt')} cannot be read`)
  })
})
