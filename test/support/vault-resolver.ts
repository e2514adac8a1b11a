// A Vault resolver wired to the stand-in for tests: real HTTP on loopback, a movable clock, pino into a buffer.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { VaultAuthConfig } from '../../src/config/schema.js'
import { createVaultResolver, type VaultResolver } from '../../src/delivery/vault/resolver.js'
import type { ProxyConfig } from '../../src/http/outbound.js'
import type { FakeVault } from './fake-vault.js'

export interface TestResolver {
  resolver: VaultResolver
  /** Everything logged so far (JSON lines, level trace). */
  logs(): string
  /** Moves the resolver's clock (token leases) forward. */
  advance(ms: number): void
}

/** Connection settings beside the address and auth. */
export interface TestConnection {
  namespace?: string
  caFile?: string
  proxy?: ProxyConfig
}

/** A resolver for `fake` with `auth` and `connection` (namespace, CA file, proxy). */
export function vaultResolverFor(
  fake: FakeVault,
  auth: VaultAuthConfig,
  connection: TestConnection = {},
): TestResolver {
  let text = ''
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk)
      done()
    },
  })
  let offset = 0
  const resolver = createVaultResolver({
    config: {
      address: fake.url,
      connectTimeoutMs: 2_000,
      requestTimeoutMs: 5_000,
      events: { enabled: false },
      auth,
      ...(connection.namespace === undefined ? {} : { namespace: connection.namespace }),
      ...(connection.caFile === undefined ? {} : { caFile: connection.caFile }),
    },
    ...(connection.proxy === undefined ? {} : { proxy: connection.proxy }),
    log: pino({ level: 'trace' }, sink),
    clock: () => Date.now() + offset,
  })
  return {
    resolver,
    logs: () => text,
    advance: (ms) => {
      offset += ms
    },
  }
}
