// The global pause end to end, through the real binary and its CLI: it survives a restart (SQLite), and one
// replica's pause stops every PostgreSQL replica; ingest goes on, nothing reaches RWX until resumed.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { type RelayProcess, runCli, startRelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'

const TOKEN = `rwx-token-${randomUUID()}`
const ADMIN = `admin-token-${randomUUID()}`
const HMAC_SECRET = `hmac-secret-${randomUUID()}`
const VALUE = `paused-value-${randomBytes(8).toString('hex')}`

let rwx: FakeRwx
const relays: RelayProcess[] = []
const dirs: string[] = []
let db: TestDatabase | undefined

function config(store: string): string {
  return `
rwx: { url: "${rwx.url}" }
store: "${store}"
logLevel: debug
rateLimit: { max: 0 }
delivery: { backoffBaseMs: 50, backoffMaxMs: 400, batchWindowMs: 10, leaseSeconds: 5 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC_SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`
}

/** Runs `vault-relay ...` with the admin token (a real process: the fake RWX answers meanwhile). */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { env: { RELAY_ADMIN_TOKEN: ADMIN, ...env } })

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>
}

/** How often the replica's delivery worker has looked for work and held back because paused. */
async function pausedHolds(relay: RelayProcess): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  return Number(/^relay_delivery_holds_total\{reason="paused"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'relay-pause-'))
  dirs.push(d)
  return d
}

beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
})
afterAll(async () => {
  await Promise.all(relays.map((r) => (r.child.exitCode === null ? r.kill('SIGKILL') : undefined)))
  await rwx?.close()
  await db?.drop().catch(() => {})
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const env = { RWX_ACCESS_TOKEN: TOKEN, RELAY_ADMIN_TOKEN: ADMIN }

describe('global pause', () => {
  it('survives a restart: events are taken, nothing is sent until `vault-relay resume`', async () => {
    rwx.reset()
    const dir = tempDir()
    const yaml = config('sqlite:./data/relay.db')
    let relay = await startRelayProcess(dir, yaml, env)
    relays.push(relay)
    const paused = await cli(['pause', '--url', relay.url, '--reason', 'RWX maintenance'])
    expect(paused).toMatchObject({ code: 0, out: 'delivery paused (RWX maintenance)\n' })

    const payload = join(dir, 'event.json')
    writeFileSync(payload, JSON.stringify({ name: 'DB_PASSWORD', value: VALUE }))
    const sent = await cli(
      ['send', '--config', join(dir, 'relay.yaml'), 'ci', payload, '--url', relay.url],
      env,
    )
    expect(sent.code).toBe(0)
    expect(sent.out).toMatch(/^202 /)
    const eventId = (JSON.parse(sent.out.slice(4)) as { event: string }).event

    expect(await relay.kill('SIGTERM')).toBe(0)
    relay = await startRelayProcess(dir, yaml, env)
    relays.push(relay)
    await until(
      () => relay.output().includes('delivery paused: nothing is sent to RWX'),
      'the worker to see the pause',
    )
    expect(await json(`${relay.url}/readyz`)).toMatchObject({ status: 'paused', paused: true })
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toMatch(/^relay_paused 1$/m)
    const status = await cli(['status', '--url', relay.url])
    expect(status.out).toContain('delivery: PAUSED since')
    expect(status.out).toContain('queued=1')
    // the queued secret was due the moment the new process started: had the pause not survived, it was sent
    expect(rwx.requests).toHaveLength(0)

    expect((await cli(['resume', '--url', relay.url])).out).toBe('delivery resumed\n')
    await rwx.waitFor((writes) => writes.some((w) => w.name === 'DB_PASSWORD' && w.secret === VALUE), 10_000)
    const shown = await cli(['show', 'ci', eventId, '--url', relay.url])
    expect(shown.code).toBe(0)
    expect(shown.out).toContain('verifier hmac  key secrets[0]')
    expect(shown.out).toMatch(/ci\/DB_PASSWORD {2}delivered {2}rule rules\[0\]\.secrets\[0\]/)
    expect(shown.out).toMatch(/delivered {2}200 v1/)
    const events = await cli(['events', '--url', relay.url, '--source', 'ci', '--json'])
    expect(JSON.parse(events.out).events.map((e: { event: string }) => e.event)).toEqual([eventId])
    // Nothing to queue again or discard (delivered): both say so and exit 1, not 0.
    const retried = await cli(['retry', 'ci', eventId, '--url', relay.url])
    expect(retried.out).toMatch(new RegExp(`^event ${eventId}: nothing queued again`))
    expect(retried.code).toBe(1)
    const discarded = await cli(['discard', 'ci', eventId, '--url', relay.url])
    expect(discarded.out).toMatch(new RegExp(`^event ${eventId}: nothing discarded`))
    expect(discarded.code).toBe(1)
    for (const text of [shown.out, status.out, events.out, relay.output()]) {
      expect(text).not.toContain(VALUE)
      expect(text).not.toContain(ADMIN)
      expect(text).not.toContain(HMAC_SECRET)
    }
    await relay.kill('SIGTERM')
  }, 60_000)

  it('one replica pauses every PostgreSQL replica, and any of them resumes them all', async () => {
    rwx.reset()
    db = await createTestDatabase(inject('pgAdminUrl'))
    const yaml = config(db.url)
    const pgEnv = { ...env, RELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
    const [a, b] = await Promise.all([
      startRelayProcess(tempDir(), yaml, pgEnv),
      startRelayProcess(tempDir(), yaml, pgEnv),
    ])
    relays.push(a!, b!)
    expect((await cli(['pause', '--url', a!.url])).code).toBe(0)
    await until(
      () => b!.output().includes('delivery paused: nothing is sent to RWX'),
      'replica B to see the pause',
    )
    const cfg = join(dirs.at(-1)!, 'relay.yaml')
    const payload = join(dirs.at(-1)!, 'event.json')
    for (let i = 0; i < 5; i++) {
      writeFileSync(payload, JSON.stringify({ name: `N${i}`, value: `${VALUE}-${i}` }))
      const sent = await cli(['send', '--config', cfg, 'ci', payload, '--url', (i % 2 ? a : b)!.url], pgEnv)
      expect(sent.out).toMatch(/^202 /)
    }
    // Every secret is now due. Each worker looks again about once a second (and re-reads the switch if its
    // last read is a second old): two more holds on each replica mean both saw the queued secrets with the
    // switch read after the sends, and held them. Anything reaching RWX meanwhile ends the wait (and fails).
    const [heldA, heldB] = [await pausedHolds(a!), await pausedHolds(b!)]
    await until(
      async () =>
        rwx.requests.length > 0 ||
        ((await pausedHolds(a!)) >= heldA + 2 && (await pausedHolds(b!)) >= heldB + 2),
      'both replicas to look again and hold',
    )
    expect(await json(`${b!.url}/readyz`)).toMatchObject({ status: 'paused' })
    const status = await cli(['status', '--url', b!.url])
    expect(status.out).toContain('queued=5')
    expect(rwx.requests).toHaveLength(0)

    expect((await cli(['resume', '--url', b!.url])).code).toBe(0)
    await rwx.waitFor((writes) => new Set(writes.map((w) => w.name)).size === 5, 15_000)
    await until(() => a!.output().includes('delivery resumed'), 'replica A to see the resume')
    await Promise.all([a!.kill('SIGTERM'), b!.kill('SIGTERM')])
  }, 90_000)
})
