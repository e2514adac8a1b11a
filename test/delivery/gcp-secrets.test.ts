// The Google Secret Manager resolver with the real @google-cloud/secret-manager client (REST transport)
// against the loopback stand-in, authenticated by a service-account key file the test made.
import { mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GcpValueRef } from '../../src/config/schema.js'
import {
  classifyGcpError,
  createGcpResolver,
  type GcpResolver,
  gcpHost,
} from '../../src/delivery/gcp-secrets.js'
import { type FakeGoogleSecrets, startFakeGoogleSecrets } from '../support/fake-google-secrets.js'

const SECRET = 'projects/demo-project/secrets/db-password'
let fake: FakeGoogleSecrets
let resolver: GcpResolver
let dir: string
const warnings: string[] = []

beforeAll(async () => {
  fake = await startFakeGoogleSecrets()
  dir = mkdtempSync(join(tmpdir(), 'gcp-resolver-'))
  resolver = createGcpResolver({
    endpoint: fake.url,
    credentialsFile: fake.keyFile(dir),
    log: { warn: (_o, msg) => void warnings.push(msg) },
  })
})
afterAll(async () => {
  resolver.close()
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const ref = (version: number, extra: Partial<GcpValueRef> = {}): GcpValueRef => ({
  store: 'gcp',
  secret: SECRET,
  version: String(version),
  ...extra,
})

describe('Google Secret Manager resolver', () => {
  it('reads the exact version, signed in with the key file', async () => {
    const one = fake.add(SECRET, 'first-value')
    const two = fake.add(SECRET, 'second-value')
    expect(await resolver.resolve(ref(one))).toEqual({ kind: 'value', value: 'first-value' })
    expect(await resolver.resolve(ref(two))).toEqual({ kind: 'value', value: 'second-value' })
    expect(fake.requests.at(-1)).toEqual({
      method: 'GET',
      path: `/v1/${SECRET}/versions/${two}:access`,
      authorized: true,
    })
  })

  it('with an alias forwards only the version it points to: older superseded, newer waits', async () => {
    const secret = 'projects/demo-project/secrets/api-token'
    const v1 = fake.add(secret, 'token-1')
    const v2 = fake.add(secret, 'token-2')
    fake.alias(secret, 'current', v1)
    expect(await resolver.resolve(ref(v1, { secret, alias: 'current' }))).toEqual({
      kind: 'value',
      value: 'token-1',
    })
    expect((await resolver.resolve(ref(v2, { secret, alias: 'current' }))).kind).toBe('retry')
    fake.alias(secret, 'current', v2)
    expect((await resolver.resolve(ref(v1, { secret, alias: 'current' }))).kind).toBe('superseded')
    expect(await resolver.resolve(ref(v2, { secret, alias: 'latest' }))).toEqual({
      kind: 'value',
      value: 'token-2',
    })
  })

  it('takes one field of a JSON secret, and base64 of a binary one', async () => {
    const secret = 'projects/demo-project/secrets/db-json'
    const v = fake.add(secret, JSON.stringify({ username: 'app', password: 'pw-in-json' }))
    expect(await resolver.resolve(ref(v, { secret, jsonKey: 'password' }))).toEqual({
      kind: 'value',
      value: 'pw-in-json',
    })
    expect((await resolver.resolve(ref(v, { secret, jsonKey: 'nope' }))).kind).toBe('dead')
    const bin = 'projects/demo-project/secrets/binary'
    const b = fake.add(bin, Buffer.from([0xff, 0xfe, 0x00]))
    expect(await resolver.resolve(ref(b, { secret: bin }))).toEqual({ kind: 'value', value: '//4A' })
  })

  it('is dead for a missing, disabled or destroyed version; retries uncounted when refused', async () => {
    const secret = 'projects/demo-project/secrets/states'
    const v = fake.add(secret, 'x')
    expect(await resolver.resolve(ref(99, { secret }))).toMatchObject({
      kind: 'dead',
      error: expect.stringMatching(/NOT_FOUND/),
    })
    fake.setState(secret, v, 'DISABLED')
    expect(await resolver.resolve(ref(v, { secret }))).toMatchObject({ kind: 'dead' })
    fake.setState(secret, v, 'DESTROYED')
    expect(await resolver.resolve(ref(v, { secret }))).toMatchObject({ kind: 'dead' })
    const closed = 'projects/demo-project/secrets/closed'
    fake.add(closed, 'x')
    fake.deny(closed)
    expect(await resolver.resolve(ref(1, { secret: closed }))).toMatchObject({
      kind: 'retry',
      countAttempt: false,
    })
    expect(warnings).toContain('Google Secret Manager credentials problem')
  })

  it('current(): the alias (or latest) version and its createTime, metadata only', async () => {
    const secret = 'projects/demo-project/secrets/current'
    const created = new Date('2030-05-06T07:08:09.123Z')
    fake.add(secret, 'old-value')
    const v2 = fake.add(secret, 'current-value', created)
    const before = fake.requests.length
    expect(await resolver.current!(ref(1, { secret }))).toEqual({
      kind: 'version',
      ref: ref(v2, { secret }),
      version: String(v2),
      createdAt: created.getTime(),
    })
    expect(fake.requests.slice(before).every((r) => !r.path.endsWith(':access'))).toBe(true)
    expect((await resolver.current!(ref(1, { secret: 'projects/demo-project/secrets/none' }))).kind).toBe(
      'missing',
    )
  })

  it('signs in with an external_account file (workload identity federation) through STS', async () => {
    const subject = `k8s-sa-token-${Date.now()}`
    const file = fake.externalAccountFile(dir, join(dir, 'k8s-token'), subject)
    const federated = createGcpResolver({ endpoint: fake.url, credentialsFile: file })
    try {
      const v = fake.add(SECRET, 'federated-value')
      expect(await federated.resolve(ref(v))).toEqual({ kind: 'value', value: 'federated-value' })
      expect(fake.exchanged).toContain(subject)
      expect(fake.requests.at(-1)).toMatchObject({
        path: `/v1/${SECRET}/versions/${v}:access`,
        authorized: true,
      })
    } finally {
      federated.close()
    }
  })

  it('without credentials yet: retried uncounted, and works once the key file appears', async () => {
    const later = join(dir, 'mounted-later.json')
    const waiting = createGcpResolver({ endpoint: fake.url, credentialsFile: later })
    try {
      const v = fake.add(SECRET, 'after-the-mount')
      expect(await waiting.resolve(ref(v))).toMatchObject({ kind: 'retry', countAttempt: false })
      expect(await waiting.current!(ref(v))).toMatchObject({ kind: 'retry' })
      renameSync(fake.keyFile(dir), later)
      expect(await waiting.resolve(ref(v))).toEqual({ kind: 'value', value: 'after-the-mount' })
    } finally {
      waiting.close()
    }
  })

  it('classifies unreachable as retry, and picks the regional host', async () => {
    expect(classifyGcpError(new Error('connect ECONNREFUSED')).kind).toBe('retry')
    expect(classifyGcpError({ code: 14, message: 'unavailable' })).toMatchObject({ kind: 'retry' })
    expect(gcpHost('projects/p/locations/europe-west1/secrets/s')).toBe(
      'secretmanager.europe-west1.rep.googleapis.com',
    )
    expect(gcpHost(SECRET)).toBe('secretmanager.googleapis.com')
    expect(() => createGcpResolver({ endpoint: 'http://example.com' })).toThrow(/loopback/)
  })
})
