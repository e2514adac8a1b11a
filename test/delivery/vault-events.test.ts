// Vault Enterprise event notifications: KV writes pushed over a WebSocket from the stand-in, reconnects, refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type KvWrite, parseKvWrite } from '../../src/delivery/vault/events.js'
import { type FakeVault, startFakeVault } from '../support/fake-vault.js'
import { until } from '../support/until.js'
import { type TestResolver, vaultResolverFor } from '../support/vault-resolver.js'

const JWT = `eyJhbGciOiJSUzI1NiJ9.events-${Date.now()}.sig`
let fake: FakeVault
let dir: string
let t: TestResolver | undefined

beforeEach(async () => {
  fake = await startFakeVault({ namespace: 'admin/platform' })
  fake.kubernetesRole('vault-relay', JWT)
  dir = mkdtempSync(join(tmpdir(), 'vault-events-'))
  writeFileSync(join(dir, 'jwt'), JWT)
})
afterEach(async () => {
  t?.resolver.close()
  t = undefined
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const resolver = () =>
  vaultResolverFor(
    fake,
    { method: 'kubernetes', role: 'vault-relay', mount: 'kubernetes', tokenFile: join(dir, 'jwt') },
    { namespace: 'admin/platform' },
  )

describe('parseKvWrite', () => {
  const event = (metadata: Record<string, unknown>, mountPath = 'secret/') =>
    JSON.stringify({
      id: 'evt-1',
      time: '2026-01-02T03:04:05.123456-07:00',
      data: {
        event: { id: 'e', metadata },
        event_type: 'kv-v2/data-write',
        plugin_info: { mount_path: mountPath },
      },
    })

  it('reads mount, path, version and time from a data-write event', () => {
    expect(parseKvWrite(event({ current_version: '4', data_path: 'secret/data/apps/db' }))).toEqual({
      id: 'evt-1',
      mount: 'secret',
      path: 'apps/db',
      version: 4,
      time: Date.parse('2026-01-02T03:04:05.123456-07:00'),
    })
  })

  it('takes a namespace before the mount, and ignores anything that is no KV write', () => {
    expect(parseKvWrite(event({ current_version: '1', data_path: 'team/kv/data/a' }, 'kv/'))).toMatchObject({
      mount: 'kv',
      path: 'a',
    })
    expect(parseKvWrite('not json')).toBeUndefined()
    expect(parseKvWrite(event({ current_version: 'x', data_path: 'secret/data/a' }))).toBeUndefined()
    expect(parseKvWrite(event({ current_version: '1', data_path: 'mysecret/data/a' }))).toBeUndefined()
    expect(parseKvWrite(event({ current_version: '1', data_path: 'secret/metadata/a' }))).toBeUndefined()
  })
})

describe('Vault event subscription', () => {
  it('delivers each KV write with its version, logged in and in the namespace', async () => {
    t = resolver()
    const writes: KvWrite[] = []
    t.resolver.subscribeKvWrites({ onWrite: (w) => writes.push(w) })
    await until(() => fake.subscribers() === 1, 'the subscription')
    fake.put('apps/db', { password: 'event-pw-1' })
    fake.put('apps/db', { password: 'event-pw-2' })
    await until(() => writes.length === 2, 'two writes')
    expect(writes.map((w) => [w.mount, w.path, w.version])).toEqual([
      ['secret', 'apps/db', 1],
      ['secret', 'apps/db', 2],
    ])
    const upgrade = fake.calls.find((c) => c.path === 'sys/events/subscribe/kv-v2/data-write')
    expect(upgrade).toMatchObject({
      query: '?json=true',
      namespace: 'admin/platform',
      token: true,
      status: 101,
    })
  })

  it('reconnects after the connection drops, and delivers later writes', async () => {
    t = resolver()
    const writes: KvWrite[] = []
    t.resolver.subscribeKvWrites({ onWrite: (w) => writes.push(w), retryBaseMs: 10, retryMaxMs: 50 })
    await until(() => fake.subscribers() === 1, 'the subscription')
    fake.dropSubscribers()
    await until(() => fake.subscribers() === 1, 'the subscription again')
    fake.put('apps/after', { password: 'event-pw-3' })
    await until(() => writes.some((w) => w.path === 'apps/after'), 'the write after reconnecting')
    expect(t.logs()).toContain('Vault event subscription closed: reconnecting')
  })

  it('a refused subscription (no subscribe capability) is retried, each time with a fresh login', async () => {
    fake.deny('sys/events/subscribe')
    t = resolver()
    const writes: KvWrite[] = []
    t.resolver.subscribeKvWrites({ onWrite: (w) => writes.push(w), retryBaseMs: 10, retryMaxMs: 20 })
    await until(() => fake.calls.filter((c) => c.status === 403).length >= 2, 'two refused upgrades')
    expect(fake.logins).toBeGreaterThanOrEqual(2)
    expect(t.logs()).not.toMatch(/hvs\./)
    expect(t.logs()).not.toContain(JWT)
  })

  it('close() ends the subscription and stops reconnecting', async () => {
    t = resolver()
    const sub = t.resolver.subscribeKvWrites({ onWrite: () => {}, retryBaseMs: 10 })
    await until(() => fake.subscribers() === 1, 'the subscription')
    sub.close()
    await until(() => fake.subscribers() === 0, 'the subscription to end')
    const upgrades = () => fake.calls.filter((c) => c.path.startsWith('sys/events')).length
    const before = upgrades()
    // A write after close reaches nobody, and no new upgrade comes (checked after a later round trip).
    fake.put('apps/closed', { password: 'event-pw-4' })
    await t.resolver.listPaths('secret', 'apps')
    expect(upgrades()).toBe(before)
  })
})
