// End to end through the binary: events that must not roll a name back or hold it: a padded replay of an
// older JWT body token, and an event dated a year ahead; on both stores.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { queueDrained, type RelayProcess, startRelayProcess } from '../support/relay-process.js'
import { generateSigningKey, hmacSignature, makeJwt, type SigningKey } from '../support/signers.js'

const TOKEN = `rwx-token-${randomUUID()}`
const HMAC_SECRET = `hmac-secret-${randomUUID()}`

let rwx: FakeRwx
let key: SigningKey
let relay: RelayProcess | undefined
let db: TestDatabase | undefined
const dirs: string[] = []

beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
  key = await generateSigningKey('ES256', 'k1')
})
afterAll(async () => {
  await rwx?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
afterEach(async () => {
  await relay?.kill('SIGKILL')
  relay = undefined
  await db?.drop().catch(() => {})
  db = undefined
  rwx.reset()
})

async function start(kind: 'sqlite' | 'postgres'): Promise<RelayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-guards-'))
  dirs.push(dir)
  if (kind === 'postgres') db = await createTestDatabase(inject('pgAdminUrl'))
  relay = await startRelayProcess(
    dir,
    `
rwx: { url: "${rwx.url}" }
store: "${db?.url ?? 'sqlite:./data/relay.db'}"
rateLimit: { max: 0 }
delivery: { backoffBaseMs: 50, batchWindowMs: 10 }
sources:
  - id: op
    verify: { type: jwt, issuer: op, audience: relay, algorithms: [ES256], keys: [${JSON.stringify(key.publicJwk)}] }
    rules:
      - secrets: [{ vault: ops, name: DB_PASSWORD, value: /value }]
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC_SECRET}"] }
    eventTime: /time
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`,
    { RWX_ACCESS_TOKEN: TOKEN, RELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
  )
  return relay
}

describe.each(['sqlite', 'postgres'] as const)('events that must not roll a secret back (%s)', (kind) => {
  // A body token's event id without jti is the hash of its JWS signing input, so padding makes no new event.
  it('answers a padded replay of an older JWT body token (no jti) as a duplicate; RWX ends on the newer', async () => {
    const r = await start(kind)
    const t = Math.floor(Date.now() / 1000)
    const claims = { iss: 'op', aud: 'relay', exp: t + 600 }
    const older = `older-${randomUUID()}`
    const newer = `newer-${randomUUID()}`
    const a = await makeJwt({ ...claims, iat: t - 20, value: older }, key)
    const b = await makeJwt({ ...claims, iat: t - 10, value: newer }, key)
    const post = (body: string) =>
      fetch(`${r.url}/hooks/op`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })
    expect((await post(a)).status).toBe(202)
    await rwx.waitFor((w) => w.some((x) => x.secret === older), 10_000)
    expect((await post(b)).status).toBe(202)
    await rwx.waitFor((w) => w.some((x) => x.secret === newer), 10_000)

    const replay = await post(`${a}\n`)
    expect(replay.status).toBe(200)
    expect(await replay.json()).toMatchObject({ duplicate: true })
    await queueDrained(r)
    expect(rwx.writes.filter((w) => w.name === 'DB_PASSWORD').map((w) => w.secret)).toEqual([older, newer])
    expect(rwx.secrets('ops').get('DB_PASSWORD')?.secret).toBe(newer)
  })

  // Event times more than 300 s ahead are refused 422 ERR_EVENT_TIME_FUTURE: accepted, one would hold its
  // name for a year (never-regress supersedes every rotation dated before it).
  it('refuses an event dated a year ahead with 422, and it queues nothing', async () => {
    const r = await start(kind)
    const value = `future-${randomUUID()}`
    const body = JSON.stringify({ name: 'FUTURE', value, time: Math.floor(Date.now() / 1000) + 365 * 86_400 })
    const res = await fetch(`${r.url}/hooks/ci`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-sig': hmacSignature(HMAC_SECRET, body, { prefix: 'sha256=' }),
      },
      body,
    })
    expect(res.status).toBe(422)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await res.json()).toMatchObject({ code: 'ERR_EVENT_TIME_FUTURE', status: 422 })
    const metrics = await (await fetch(`${r.url}/metrics`)).text()
    expect(metrics).toContain('relay_queue_secrets{status="queued"} 0')
    expect(metrics).toContain('relay_queue_secrets{status="delivered"} 0')
    expect(rwx.requests).toHaveLength(0)
  })
})
