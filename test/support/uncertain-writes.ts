// For the e2e tests of writes whose outcome the relay never learned: the relay binary on SQLite or on a
// PostgreSQL test database, signed events for one name, and what RWX and the relay end up saying.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest'
import { type FakeRwx, startFakeRwx } from './fake-rwx.js'
import { createTestDatabase } from './postgres.js'
import { type RelayProcess, startRelayProcess } from './relay-process.js'
import { hmacSignature } from './signers.js'
import { until } from './until.js'

export type StoreKind = 'sqlite' | 'postgres'

const TOKEN = `rwx-token-${randomUUID()}`
const HMAC_SECRET = `hmac-secret-${randomUUID()}`
const ADMIN = `admin-token-${randomUUID()}`
const ENV = {
  RWX_ACCESS_TOKEN: TOKEN,
  RELAY_ADMIN_TOKEN: ADMIN,
  RELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
}

/** Settings of one test: `delivery.*` and `server.*` keys, written as YAML flow mappings. */
export interface Settings {
  delivery: Record<string, number>
  server?: Record<string, number>
  /** Take each event's vault from its body's `vault` (see `post`) instead of the one vault `ci`. */
  vaultFromEvent?: boolean
}

/** One store (a SQLite file in a fresh directory, or a fresh PostgreSQL database) and the relays on it. */
export interface Site {
  /** The PostgreSQL database's URL; undefined on SQLite. */
  databaseUrl: string | undefined
  /** Starts one more relay process on the store; every one is killed by `close()`. */
  start(): Promise<RelayProcess>
  close(): Promise<void>
}

async function openSite(kind: StoreKind, adminUrl: string, rwx: FakeRwx, s: Settings): Promise<Site> {
  const dirs: string[] = []
  const relays: RelayProcess[] = []
  const db = kind === 'postgres' ? await createTestDatabase(adminUrl) : undefined
  const dir = mkdtempSync(join(tmpdir(), 'relay-uncertain-'))
  dirs.push(dir)
  const flow = (o: Record<string, number>) =>
    `{ ${Object.entries(o)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} }`
  const yaml = `
rwx: { url: "${rwx.url}" }
store: "${db?.url ?? 'sqlite:./data/relay.db'}"
logLevel: debug
rateLimit: { max: 0 }
server: ${flow(s.server ?? {})}
delivery: ${flow({ backoffBaseMs: 50, backoffMaxMs: 400, batchWindowMs: 10, ...s.delivery })}
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC_SECRET}"] }
    eventTime: /time
    rules:
      - secrets: [{ vault: ${s.vaultFromEvent ? '"{{ /vault }}"' : 'ci'}, name: "{{ /name }}", value: /value }]
`
  return {
    databaseUrl: db?.url,
    async start() {
      // SQLite: every relay in the one directory (its file); PostgreSQL: each replica in its own.
      const home = kind === 'sqlite' || relays.length === 0 ? dir : mkdtempSync(join(tmpdir(), 'relay-r-'))
      if (home !== dir) dirs.push(home)
      const relay = await startRelayProcess(home, yaml, ENV)
      relays.push(relay)
      return relay
    },
    async close() {
      await Promise.all(relays.map((r) => r.kill('SIGKILL')))
      await db?.drop().catch(() => {})
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    },
  }
}

/** One test file's fake RWX, and the site each of its tests opens. */
export interface Sites {
  /** The fake RWX, started before the file's tests and emptied after each. */
  readonly rwx: FakeRwx
  /** Opens this test's site (on PostgreSQL, a fresh database); it is closed after the test. */
  open(kind: StoreKind, s: Settings): Promise<Site>
  /** Whether RWX has stored `value`. */
  landed(value: string): boolean
}

/** Registers the hooks that start the fake RWX for the file and close each test's site after it. */
export function useSites(): Sites {
  let rwx: FakeRwx | undefined
  let site: Site | undefined
  beforeAll(async () => {
    rwx = await startFakeRwx({ token: TOKEN })
  })
  afterAll(async () => {
    await rwx?.close()
  })
  afterEach(async () => {
    await site?.close()
    site = undefined
    rwx?.reset()
  })
  const started = (): FakeRwx => {
    if (rwx === undefined) throw new Error('the fake RWX starts in beforeAll')
    return rwx
  }
  return {
    get rwx() {
      return started()
    },
    async open(kind, s) {
      site = await openSite(kind, inject('pgAdminUrl'), started(), s)
      return site
    },
    landed: (value) => started().writes.some((w) => w.secret === value),
  }
}

/** Epoch seconds now, the time of a test's first event. */
export const now = () => Math.floor(Date.now() / 1000)

/** A fresh secret name, so a write landing late from an earlier test cannot touch this one's. */
export const freshName = () => `N_${randomBytes(4).toString('hex')}`

/**
 * Posts one signed event setting `name` to `value` at `time` (epoch seconds), in `vault` on a site that
 * takes it from the event; returns its event id.
 */
export async function post(
  relay: RelayProcess,
  name: string,
  value: string,
  time: number,
  vault?: string,
): Promise<string> {
  const body = JSON.stringify(vault === undefined ? { name, value, time } : { name, value, time, vault })
  const res = await fetch(`${relay.url}/hooks/ci`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sig': hmacSignature(HMAC_SECRET, body, { prefix: 'sha256=' }),
    },
    body,
  })
  expect(res.status).toBe(202)
  return ((await res.json()) as { event: string }).event
}

/** Resolves once RWX has received a request writing `value` (it may still be answering it). */
export function requested(rwx: FakeRwx, value: string, timeoutMs = 10_000): Promise<void> {
  const carries = (body: unknown) => JSON.stringify(body ?? null).includes(JSON.stringify(value))
  return rwx.waitFor((_w, requests) => requests.some((r) => carries(r.body)), timeoutMs)
}

/** Waits until RWX has stored every one of `values` and `relay` has nothing left queued. */
export async function settled(rwx: FakeRwx, relay: RelayProcess, values: string[]): Promise<void> {
  await rwx.waitFor((writes) => values.every((v) => writes.some((w) => w.secret === v)), 20_000)
  await until(async () => {
    const res = await fetch(`${relay.url}/metrics`)
    return (await res.text()).includes('relay_queue_secrets{status="queued"} 0')
  }, 'the queue to drain')
}

/** Pauses or resumes delivery through the relay's admin API (resuming wakes its worker). */
export async function setPaused(relay: RelayProcess, paused: boolean): Promise<void> {
  const res = await fetch(`${relay.url}/admin/${paused ? 'pause' : 'resume'}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}` },
  })
  expect(res.status).toBe(200)
}

/** The relay's account of an event's one secret (admin API): its status and the RWX version it wrote. */
export async function reported(
  relay: RelayProcess,
  event: string,
): Promise<{ status: string; rwxVersion: number | null }> {
  const res = await fetch(`${relay.url}/admin/events/ci/${event}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  })
  expect(res.status).toBe(200)
  const body = (await res.json()) as { secrets: { status: string; rwxVersion: number | null }[] }
  expect(body.secrets).toHaveLength(1)
  return body.secrets[0]!
}

/**
 * Asserts that the older value did land at RWX, that the newer one was written after it and last, that
 * RWX holds the newer one, and that the relay reports the newer event delivered as RWX's current version
 * and the older one superseded.
 */
export async function expectNewestLast(
  rwx: FakeRwx,
  relay: RelayProcess,
  name: string,
  older: { value: string; event: string },
  newer: { value: string; event: string },
): Promise<void> {
  const order = rwx.writes.filter((w) => w.vault === 'ci' && w.name === name).map((w) => w.secret)
  expect(order, 'the abandoned write landed').toContain(older.value)
  expect(order.at(-1), 'the newest value is written last').toBe(newer.value)
  expect(order.lastIndexOf(newer.value)).toBeGreaterThan(order.indexOf(older.value))
  const held = rwx.secrets('ci').get(name)
  expect(held?.secret, 'RWX ends on the newest value').toBe(newer.value)
  expect(await reported(relay, newer.event)).toMatchObject({ status: 'delivered', rwxVersion: held?.version })
  expect((await reported(relay, older.event)).status).toBe('superseded')
}
