// Vault auth against the stand-in: Kubernetes and AppRole logins, renewal before the lease ends, re-login, token files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { VaultKvRef } from '../../src/config/schema.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { type TestResolver, vaultResolverFor } from '../support/vault-resolver.js'

let fake: FakeVault
let dir: string
let t: TestResolver | undefined
const JWT = `eyJhbGciOiJSUzI1NiJ9.sa-token-${Date.now()}.sig`
const ref: VaultKvRef = { store: 'vault', engine: 'kv', mount: 'secret', path: 'app/db', key: 'password' }

beforeEach(async () => {
  fake = await startFakeVault({ tokenTtlSeconds: 60 })
  dir = mkdtempSync(join(tmpdir(), 'vault-auth-'))
  writeFileSync(join(dir, 'jwt'), `${JWT}\n`)
  fake.kubernetesRole('vault-relay', JWT)
  fake.put('app/db', { password: 'pw-1' })
})
afterEach(async () => {
  t?.resolver.close()
  t = undefined
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const kubernetes = () =>
  vaultResolverFor(fake, {
    method: 'kubernetes',
    role: 'vault-relay',
    mount: 'kubernetes',
    tokenFile: join(dir, 'jwt'),
  })
const logins = () => fake.calls.filter((c) => c.path.endsWith('/login'))

describe('Vault auth', () => {
  it('Kubernetes: logs in once with the service-account token and reuses the Vault token', async () => {
    t = kubernetes()
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(logins().map((c) => c.path)).toEqual(['auth/kubernetes/login'])
    expect(fake.calls.filter((c) => c.path.startsWith('secret/')).every((c) => c.token)).toBe(true)
  })

  it('AppRole: logs in with role_id and the secret id read from its file', async () => {
    fake.approle('role-123', 'secret-id-abc')
    writeFileSync(join(dir, 'secret-id'), 'secret-id-abc')
    t = vaultResolverFor(fake, {
      method: 'approle',
      roleId: 'role-123',
      secretIdFile: join(dir, 'secret-id'),
      mount: 'approle',
    })
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(logins().map((c) => c.path)).toEqual(['auth/approle/login'])
  })

  it('renews the token (renew-self) once two thirds of its lease are gone, and keeps using it', async () => {
    t = kubernetes()
    await t.resolver.resolve(ref)
    t.advance(45_000)
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(fake.renewals).toBe(1)
    expect(fake.logins).toBe(1)
    // Renewed: the next call within the new lease neither renews nor logs in.
    await t.resolver.resolve(ref)
    expect(fake.renewals).toBe(1)
  })

  it('logs in again when a renewal grants much less than the login did (the max TTL is near)', async () => {
    await fake.close()
    fake = await startFakeVault({ tokenTtlSeconds: 60, tokenMaxTtlSeconds: 20 })
    fake.kubernetesRole('vault-relay', JWT)
    fake.put('app/db', { password: 'pw-1' })
    t = kubernetes()
    await t.resolver.resolve(ref)
    t.advance(45_000)
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(fake.renewals).toBe(1)
    expect(fake.logins).toBe(2)
  })

  it('an expired or revoked token (403) is replaced by a new login, and the read succeeds', async () => {
    t = kubernetes()
    await t.resolver.resolve(ref)
    fake.expireTokens()
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(fake.logins).toBe(2)
  })

  it('a policy miss (403 with a token still valid) keeps the token: no login per denied read', async () => {
    fake.put('private/key', { password: 'pw-private' })
    fake.deny('secret/metadata/private')
    t = kubernetes()
    await t.resolver.resolve(ref)
    const denied = { ...ref, path: 'private/key', version: 1 }
    expect(await t.resolver.resolve(denied)).toMatchObject({ kind: 'retry', countAttempt: false })
    expect(await t.resolver.resolve(denied)).toMatchObject({ kind: 'retry', countAttempt: false })
    expect(fake.logins).toBe(1)
  })

  it('a refused login is a retry that does not count (a role fix outside the relay), and says so in the log', async () => {
    writeFileSync(join(dir, 'jwt'), 'a-wrong-jwt')
    t = kubernetes()
    expect(await t.resolver.resolve(ref)).toEqual({
      kind: 'retry',
      error: 'Vault kubernetes login (mount kubernetes, role vault-relay) refused (HTTP 403)',
      afterMs: 60_000,
      countAttempt: false,
    })
    // The service-account token is re-read at each login: once it is right, the next call works.
    writeFileSync(join(dir, 'jwt'), JWT)
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(t.logs()).toContain('refused (HTTP 403)')
    expect(t.logs()).not.toContain('a-wrong-jwt')
    expect(t.logs()).not.toContain(JWT)
  })

  it('a login at an auth mount Vault does not have (404) is a retry that does not count either', async () => {
    t = vaultResolverFor(fake, {
      method: 'kubernetes',
      role: 'vault-relay',
      mount: 'k8s-east',
      tokenFile: join(dir, 'jwt'),
    })
    expect(await t.resolver.resolve(ref)).toEqual({
      kind: 'retry',
      error: 'Vault kubernetes login (mount k8s-east, role vault-relay) refused (HTTP 404)',
      afterMs: 60_000,
      countAttempt: false,
    })
  })

  it('a missing service-account token file is a retry that does not count, naming the setting', async () => {
    rmSync(join(dir, 'jwt'))
    t = kubernetes()
    const result = await t.resolver.resolve(ref)
    expect(result).toMatchObject({ kind: 'retry', countAttempt: false })
    expect(JSON.stringify(result)).toContain('vault.auth.tokenFile cannot be read')
  })

  it('token file: uses the token as written, and re-reads the file when it changes', async () => {
    const file = join(dir, 'vault-token')
    writeFileSync(file, 'hvs.not-a-token')
    t = vaultResolverFor(fake, { method: 'token', tokenFile: file })
    expect(await t.resolver.resolve(ref)).toMatchObject({ kind: 'retry', countAttempt: false })
    writeFileSync(file, `${fake.staticToken()}\n`)
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-1' })
    expect(fake.logins).toBe(0)
  })

  it('sends X-Vault-Namespace on logins and reads', async () => {
    await fake.close()
    fake = await startFakeVault({ namespace: 'admin/team-a' })
    fake.kubernetesRole('vault-relay', JWT)
    fake.put('app/db', { password: 'pw-ns' })
    t = vaultResolverFor(
      fake,
      { method: 'kubernetes', role: 'vault-relay', mount: 'kubernetes', tokenFile: join(dir, 'jwt') },
      { namespace: 'admin/team-a' },
    )
    expect(await t.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'pw-ns' })
    expect(new Set(fake.calls.map((c) => c.namespace))).toEqual(new Set(['admin/team-a']))
  })

  it('no Vault token, JWT or value appears in the log', async () => {
    t = kubernetes()
    await t.resolver.resolve(ref)
    t.advance(45_000)
    await t.resolver.resolve(ref)
    fake.expireTokens()
    await t.resolver.resolve(ref)
    const logs = t.logs()
    expect(logs).toContain('logged in to Vault')
    expect(logs).not.toMatch(/hvs\./)
    expect(logs).not.toContain(JWT)
    expect(logs).not.toContain('pw-1')
  })
})
