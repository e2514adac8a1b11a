// The Vault resolver against the stand-in: KV v2 versions, never regressing, database rotations, errors at the edge.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VaultDatabaseRef, VaultKvRef } from '../../src/config/schema.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { type TestResolver, vaultResolverFor } from '../support/vault-resolver.js'

let fake: FakeVault
let dir: string
let t: TestResolver
let n = 0
const unique = (name: string) => `${name}-${++n}`

beforeAll(async () => {
  fake = await startFakeVault()
  dir = mkdtempSync(join(tmpdir(), 'vault-resolver-'))
  writeFileSync(join(dir, 'token'), fake.staticToken())
  t = vaultResolverFor(fake, { method: 'token', tokenFile: join(dir, 'token') })
})
afterAll(async () => {
  t.resolver.close()
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const kv = (path: string, key: string, version?: number): VaultKvRef => ({
  store: 'vault',
  engine: 'kv',
  mount: 'secret',
  path,
  key,
  ...(version === undefined ? {} : { version }),
})
const db = (role: string, key: 'username' | 'password', version?: string): VaultDatabaseRef => ({
  store: 'vault',
  engine: 'database',
  mount: 'database',
  role,
  key,
  ...(version === undefined ? {} : { version }),
})

describe('Vault KV v2', () => {
  it('reads the named version, and the current one without a version', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1', port: 5432 })
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({ kind: 'value', value: 'pw-1' })
    expect(await t.resolver.resolve(kv(path, 'port'))).toEqual({ kind: 'value', value: '5432' })
    const asked = fake.calls.filter((c) => c.path === `secret/data/${path}`).map((c) => c.query)
    expect(asked).toEqual(['?version=1', ''])
  })

  it('an older version after a newer one is superseded, never delivered', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1' })
    fake.put(path, { password: 'pw-2' })
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({
      kind: 'superseded',
      error: `version 1 of secret/${path} is no longer current (version 2 is)`,
    })
    expect(await t.resolver.resolve(kv(path, 'password', 2))).toEqual({ kind: 'value', value: 'pw-2' })
    // The older version's data was never read.
    expect(fake.calls.some((c) => c.path === `secret/data/${path}` && c.query === '?version=1')).toBe(false)
  })

  it('a version newer than the current one (a lagging standby) is retried, counted', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1' })
    expect(await t.resolver.resolve(kv(path, 'password', 3))).toEqual({
      kind: 'retry',
      error: `version 3 of secret/${path} is not visible yet (current is 1)`,
    })
  })

  it('a deleted or destroyed current version is dead', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1' })
    fake.deleteVersion(path, 1)
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({
      kind: 'dead',
      error: `version 1 was deleted: secret/${path}`,
    })
    expect(await t.resolver.resolve(kv(path, 'password'))).toMatchObject({ kind: 'dead' })
    const other = unique('app/db')
    fake.put(other, { password: 'pw-x' })
    fake.deleteVersion(other, 1, 'destroy')
    expect(await t.resolver.resolve(kv(other, 'password', 1))).toEqual({
      kind: 'dead',
      error: `version 1 was destroyed: secret/${other}`,
    })
  })

  it('a missing secret is dead; a missing, null or empty key is dead; a prototype name is just a key', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1', empty: '', nothing: null })
    expect(await t.resolver.resolve(kv(unique('nope'), 'password', 1))).toMatchObject({
      kind: 'dead',
      error: expect.stringMatching(/^no such secret or version/),
    })
    expect(await t.resolver.resolve(kv(path, 'user', 1))).toEqual({
      kind: 'dead',
      error: `key "user" is not in secret/${path} version 1`,
    })
    expect(await t.resolver.resolve(kv(path, 'empty', 1))).toMatchObject({ kind: 'dead' })
    expect(await t.resolver.resolve(kv(path, 'nothing', 1))).toMatchObject({ kind: 'dead' })
    expect(await t.resolver.resolve(kv(path, 'constructor', 1))).toMatchObject({ kind: 'dead' })
  })

  it('permission denied (a policy miss) is retried without counting an attempt', async () => {
    const path = unique('private/db')
    fake.put(path, { password: 'pw-1' })
    fake.deny(`secret/metadata/${path}`)
    const calls = fake.calls.length
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({
      kind: 'retry',
      error: `permission denied for secret/metadata/${path} (HTTP 403): the relay's Vault policy must allow it`,
      afterMs: 60_000,
      countAttempt: false,
    })
    expect(t.logs()).toContain('Vault permission or login problem')
    // The token is still good (lookup-self): a policy miss costs no new login and no second read.
    expect(fake.calls.slice(calls).map((c) => c.path)).toEqual([
      `secret/metadata/${path}`,
      'auth/token/lookup-self',
    ])
  })

  it('current(): permission denied on the metadata waits a minute, uncounted, and is warned about', async () => {
    const path = unique('private/meta')
    fake.put(path, { password: 'pw-1' })
    fake.deny(`secret/metadata/${path}`)
    const own = vaultResolverFor(fake, { method: 'token', tokenFile: join(dir, 'token') })
    try {
      expect(await own.resolver.current(kv(path, 'password'))).toEqual({
        kind: 'retry',
        error: `permission denied for secret/metadata/${path} (HTTP 403): the relay's Vault policy must allow it`,
        afterMs: 60_000,
      })
      expect(own.logs()).toContain('Vault permission or login problem')
    } finally {
      own.resolver.close()
    }
  })

  it('sealed (503), rate limited (429) and 5xx are retried; unreachable too', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1' })
    fake.sealed = true
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({
      kind: 'retry',
      error: 'Vault is sealed or unavailable (HTTP 503)',
    })
    fake.sealed = false
    fake.failNext(1, 429)
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toMatchObject({ kind: 'retry' })
    fake.failNext(1, 500)
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toMatchObject({ kind: 'retry' })
    expect(await t.resolver.resolve(kv(path, 'password', 1))).toEqual({ kind: 'value', value: 'pw-1' })
    const gone = vaultResolverFor(
      { ...fake, url: 'http://127.0.0.1:1' },
      { method: 'token', tokenFile: join(dir, 'token') },
    )
    expect(await gone.resolver.resolve(kv(path, 'password', 1))).toEqual({
      kind: 'retry',
      error: 'Vault unreachable (ECONNREFUSED)',
    })
    gone.resolver.close()
  })

  it('current(): the current version from metadata only, pinned, with its creation time', async () => {
    const path = unique('app/db')
    fake.put(path, { password: 'pw-1' })
    fake.put(path, { password: 'pw-2' })
    const before = fake.calls.length
    const current = await t.resolver.current(kv(path, 'password'))
    expect(current).toEqual({
      kind: 'version',
      ref: kv(path, 'password', 2),
      version: '2',
      createdAt: expect.any(Number),
    })
    expect(fake.calls.slice(before).map((c) => c.path)).toEqual([`secret/metadata/${path}`])
    expect(await t.resolver.current(kv(unique('nope'), 'password'))).toMatchObject({ kind: 'missing' })
    fake.deleteVersion(path, 2)
    expect(await t.resolver.current(kv(path, 'password'))).toMatchObject({ kind: 'missing' })
  })

  it('listPaths(): every secret under a prefix, folders followed; an empty prefix is no paths', async () => {
    const root = unique('team')
    fake.put(`${root}/a`, { k: 'v' })
    fake.put(`${root}/b`, { k: 'v' })
    fake.put(`${root}/sub/c`, { k: 'v' })
    expect(await t.resolver.listPaths('secret', root)).toEqual({
      kind: 'paths',
      paths: [`${root}/a`, `${root}/b`, `${root}/sub/c`],
    })
    expect(fake.calls.filter((c) => c.query === '?list=true').every((c) => c.method === 'GET')).toBe(true)
    expect(await t.resolver.listPaths('secret', unique('empty'))).toEqual({ kind: 'paths', paths: [] })
  })
})

describe('Vault database static roles', () => {
  it('delivers the current rotation, and supersedes one older than the current', async () => {
    const role = unique('app')
    const first = fake.rotate(role, 'app-user', 'db-pw-1')
    expect(await t.resolver.resolve(db(role, 'password'))).toEqual({ kind: 'value', value: 'db-pw-1' })
    expect(await t.resolver.resolve(db(role, 'username', first))).toEqual({
      kind: 'value',
      value: 'app-user',
    })
    const second = fake.rotate(role, 'app-user', 'db-pw-2')
    expect(await t.resolver.resolve(db(role, 'password', first))).toMatchObject({ kind: 'superseded' })
    expect(await t.resolver.resolve(db(role, 'password', second))).toEqual({
      kind: 'value',
      value: 'db-pw-2',
    })
  })

  it('current(): last_vault_rotation as the version, pinned; the password is not kept', async () => {
    const role = unique('app')
    const rotation = fake.rotate(role, 'app-user', 'db-pw-current')
    const current = await t.resolver.current(db(role, 'password'))
    expect(current).toEqual({
      kind: 'version',
      ref: db(role, 'password', rotation),
      version: rotation,
      createdAt: Date.parse(rotation),
    })
    expect(JSON.stringify(current)).not.toContain('db-pw-current')
    expect(await t.resolver.current(db(unique('unknown'), 'password'))).toMatchObject({ kind: 'missing' })
  })

  it('orders rotations by their nanoseconds when the milliseconds tie', async () => {
    const role = unique('app')
    const first = fake.rotate(role, 'u', 'p1')
    const second = fake.rotate(role, 'u', 'p2')
    expect(Date.parse(first) <= Date.parse(second)).toBe(true)
    expect(await t.resolver.resolve(db(role, 'password', first))).toMatchObject({ kind: 'superseded' })
    expect(await t.resolver.resolve(db(role, 'password', second))).toEqual({ kind: 'value', value: 'p2' })
  })
})

describe('Vault values stay out of logs', () => {
  it('no value or token in any log line after reads, refusals and failures', () => {
    const logs = t.logs()
    for (const value of ['pw-1', 'pw-2', 'db-pw-1', 'db-pw-2', 'db-pw-current', 'hvs.']) {
      expect(logs).not.toContain(value)
    }
  })
})
