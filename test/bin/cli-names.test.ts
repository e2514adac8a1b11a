// `vault-relay name show|reset`: the real binary against the real app (SQLite) listening on a free port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { valueAad } from '../../src/queue/crypto.js'
import { type Harness, startHarness } from '../support/app-harness.js'
import { runCli } from '../support/relay-process.js'

const TOKEN = 'cli-admin-token-never-printed'
const VALUE = 'cli-names-value-do-not-leak'
const NOW = 1_800_000_000_000

let h: Harness
let url = ''
beforeAll(async () => {
  h = await startHarness(`admin: { token: ${TOKEN} }\nsources: []\n`, { clock: () => NOW })
  url = await h.app.listen({ port: 0, host: '127.0.0.1' })
  // A delivered, then B fenced by a write with an unknown outcome, straight through the store
  const secret = (name: string) => ({
    vault: 'v',
    name,
    sealed: h.sealer.seal(VALUE, valueAad('v', name)),
    ref: null,
    fingerprint: null,
  })
  await h.store.enqueue({
    source: 'src',
    eventId: 'evt_future',
    eventTime: NOW + 86_400_000,
    receivedAt: NOW,
    secrets: [secret('A'), secret('B')],
  })
  const claimed = await h.store.claim({ owner: 'w1', now: NOW, leaseMs: 60_000, limit: 2 })
  await h.store.settle(
    'w1',
    NOW,
    claimed.map((c) =>
      c.name === 'A'
        ? { id: c.id, kind: 'delivered' as const, version: 3 }
        : {
            id: c.id,
            kind: 'retry' as const,
            at: NOW,
            error: 'timed out',
            countAttempt: true,
            fenceUntil: NOW + 60_000,
          },
    ),
  )
})
afterAll(async () => h?.close())

const cli = (...args: string[]) =>
  runCli(['name', ...args, '--url', url], { env: { RELAY_ADMIN_TOKEN: TOKEN } })

// Each command is a process start (seconds on a busy machine): a longer bound than the default.
describe('vault-relay name', { timeout: 60_000 }, () => {
  it('shows a name: its watermark, queue and fence, never a value or the token', async () => {
    const a = await cli('show', 'v', 'A')
    expect(a.code).toBe(0)
    expect(a.out).toContain(`delivered: event time ${new Date(NOW + 86_400_000).toISOString()}`)
    expect(a.out).toContain('from src evt_future  rwx version 3')
    const b = await cli('show', 'v', 'B')
    expect(b.out).toContain(`fence: held until ${new Date(NOW + 60_000).toISOString()}`)
    expect(b.out).toContain('queued 1')
    for (const r of [a, b]) expect(r.out + r.err).not.toMatch(new RegExp(`${VALUE}|${TOKEN}`))
  })

  it('exits 1 for an unknown name, 2 without a reason', async () => {
    const unknown = await cli('show', 'v', 'NOPE')
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('the relay answered 404')
    const bare = await cli('reset', 'v', 'A')
    expect(bare.code).toBe(2)
    expect(bare.err).toContain('--reason')
    expect((await h.store.getName('v', 'A', NOW))?.delivered).not.toBeNull()
  })

  it('resets a watermark, lifts a fence, and exits 1 when nothing changed', async () => {
    const reset = await cli('reset', 'v', 'A', '--reason', 'vendor clock ran a day ahead')
    expect(reset.code).toBe(0)
    expect(reset.out).toContain('v/A: watermark cleared')
    expect((await h.store.getName('v', 'A', NOW))?.delivered).toBeNull()
    const again = await cli('reset', 'v', 'A', '--reason', 'again')
    expect(again.code).toBe(1)
    expect(again.out).toContain('nothing changed')
    const lifted = await cli('reset', 'v', 'B', '--reason', 'that write never landed', '--lift-fence')
    expect(lifted.code).toBe(0)
    expect(lifted.out).toContain('v/B: fence lifted')
    expect((await h.store.getName('v', 'B', NOW))?.fencedUntil).toBeNull()
  })
})
