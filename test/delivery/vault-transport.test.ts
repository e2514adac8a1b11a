// The Vault transport: TLS with vault.caFile, the outbound proxy, an unreadable CA file, and no redirect followed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VaultKvRef } from '../../src/config/schema.js'
import { createVaultHttp } from '../../src/delivery/vault/http.js'
import { StartupError } from '../../src/errors.js'
import { type ConnectProxy, startConnectProxy } from '../support/connect-proxy.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { vaultResolverFor } from '../support/vault-resolver.js'
import { issueTlsCertificate } from '../support/x509.js'

let fake: FakeVault
let proxy: ConnectProxy
let dir: string
let tokenFile: string
const ref: VaultKvRef = {
  store: 'vault',
  engine: 'kv',
  mount: 'secret',
  path: 'tls/db',
  key: 'password',
  version: 1,
}

beforeAll(async () => {
  const tls = await issueTlsCertificate()
  ;[fake, proxy] = await Promise.all([startFakeVault({ tls }), startConnectProxy()])
  dir = mkdtempSync(join(tmpdir(), 'vault-transport-'))
  writeFileSync(join(dir, 'ca.pem'), tls.caPem)
  tokenFile = join(dir, 'token')
  writeFileSync(tokenFile, fake.staticToken())
  fake.put('tls/db', { password: 'tls-pw-1' })
})
afterAll(async () => {
  await Promise.all([fake.close(), proxy.close()])
  rmSync(dir, { recursive: true, force: true })
})

describe('Vault transport', () => {
  it('trusts Vault over TLS through vault.caFile, and not without it', async () => {
    const trusted = vaultResolverFor(fake, { method: 'token', tokenFile }, { caFile: join(dir, 'ca.pem') })
    expect(await trusted.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'tls-pw-1' })
    trusted.resolver.close()
    const untrusted = vaultResolverFor(fake, { method: 'token', tokenFile })
    expect(await untrusted.resolver.resolve(ref)).toMatchObject({
      kind: 'retry',
      error: expect.stringMatching(/^Vault unreachable \(/),
    })
    untrusted.resolver.close()
  })

  it('goes through the configured proxy (CONNECT), keeping the CA for the tunnelled TLS', async () => {
    const viaProxy = vaultResolverFor(
      fake,
      { method: 'token', tokenFile },
      { caFile: join(dir, 'ca.pem'), proxy: { httpsProxy: proxy.url } },
    )
    expect(await viaProxy.resolver.resolve(ref)).toEqual({ kind: 'value', value: 'tls-pw-1' })
    expect(proxy.tunnels).toContain(new URL(fake.url).host)
    viaProxy.resolver.close()
  })

  it('an unreadable caFile stops the start, naming the setting', () => {
    const config = {
      address: fake.url,
      caFile: join(dir, 'missing.pem'),
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      auth: { method: 'token' as const, tokenFile },
      events: { enabled: false },
    }
    expect(() => createVaultHttp(config)).toThrow(StartupError)
    expect(() => createVaultHttp(config)).toThrow(/^vault\.caFile /)
  })

  it('a redirect (a standby node) is not followed: retried, naming the fix', async () => {
    const plain = await startFakeVault()
    const file = join(dir, 'plain-token')
    writeFileSync(file, plain.staticToken())
    plain.put('tls/db', { password: 'p' })
    plain.failNext(1, 307)
    const t = vaultResolverFor(plain, { method: 'token', tokenFile: file })
    expect(await t.resolver.resolve(ref)).toMatchObject({
      kind: 'retry',
      error: expect.stringContaining('redirects are not followed'),
    })
    t.resolver.close()
    await plain.close()
  })
})
