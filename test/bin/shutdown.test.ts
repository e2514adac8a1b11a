// Closing with grace, through the real binary: signals drain and exit 0; uncaught errors drain, log and exit 1.
import { createHmac, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { startRelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'

const TOKEN = `rwx-token-${randomUUID()}`
const SECRET = `hmac-${randomUUID()}`
const CRASH = resolve('test/fixtures/crash-on-signal.mjs')
let rwx: FakeRwx
const dirs: string[] = []
beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
})
afterAll(async () => {
  await rwx.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const config = () => `
rwx: { url: "${rwx.url}" }
store: sqlite:./relay.db
rateLimit: { max: 0 }
delivery: { batchWindowMs: 0 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`

/** Starts the relay, sends one secret and returns once RWX holds its request open (a delivery in flight). */
async function relayWithDeliveryInFlight(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-shutdown-'))
  dirs.push(dir)
  rwx.reset()
  rwx.delay(400, 1)
  const relay = await startRelayProcess(dir, config(), { RWX_ACCESS_TOKEN: TOKEN, ...env })
  const name = `N_${randomUUID().slice(0, 8)}`
  const value = `value-${randomUUID()}`
  const body = JSON.stringify({ name, value })
  const res = await fetch(`${relay.url}/hooks/ci`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sig': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  })
  expect(res.status).toBe(202)
  await rwx.waitFor((_w, requests) => requests.length >= 1, 10_000)
  return { relay, dir, name, value }
}

/** Secrets still leased to someone in the relay's SQLite file. */
function leased(dir: string): number {
  const db = new Database(join(dir, 'relay.db'), { readonly: true })
  try {
    return (
      db.prepare('SELECT count(*) AS n FROM secrets WHERE lease_owner IS NOT NULL').get() as { n: number }
    ).n
  } finally {
    db.close()
  }
}

/** The status the relay recorded for `name`: 'delivered' only once it had RWX's 200 before exiting. */
function statusOf(dir: string, name: string): string | undefined {
  const db = new Database(join(dir, 'relay.db'), { readonly: true })
  try {
    return (
      db.prepare('SELECT status FROM secrets WHERE name = ?').get(name) as { status: string } | undefined
    )?.status
  } finally {
    db.close()
  }
}

describe('close with grace', () => {
  it('drains and exits 0 on SIGINT, finishing the delivery in flight', async () => {
    const { relay, dir, name, value } = await relayWithDeliveryInFlight()
    expect(await relay.kill('SIGINT')).toBe(0)
    expect(rwx.secrets('ci').get(name)?.secret).toBe(value)
    // 'exit' can come before the last of stdout: wait for the final line.
    await until(() => relay.output().includes('"msg":"stopped"'), 'the last log line')
    expect(relay.output()).toContain('"signal":"SIGINT"')
    expect(leased(dir)).toBe(0)
    expect(statusOf(dir, name)).toBe('delivered')
  })

  for (const kind of ['throw', 'reject'] as const) {
    it(`on an ${kind === 'throw' ? 'uncaught exception' : 'unhandled rejection'}: logs it, drains, releases leases, exits 1`, async () => {
      const { relay, dir, name, value } = await relayWithDeliveryInFlight({
        NODE_OPTIONS: `--import=${CRASH}`,
        CRASH_KIND: kind,
      })
      relay.child.kill('SIGWINCH')
      expect(await relay.exited).toBe(1)
      await until(() => relay.output().includes('"msg":"stopped"'), 'the last log line')
      const out = relay.output()
      expect(out).toContain('"msg":"uncaught error: shutting down"')
      expect(out).toContain(kind === 'throw' ? 'test: an uncaught exception' : 'test: an unhandled rejection')
      expect(out).toContain('"msg":"stopped"')
      expect(out).not.toContain(value)
      expect(rwx.secrets('ci').get(name)?.secret).toBe(value)
      expect(leased(dir)).toBe(0)
      expect(statusOf(dir, name)).toBe('delivered')
    })
  }
})
