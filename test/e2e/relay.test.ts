// End to end through the real process: signed events in, RWX (a real local fake) receives the values.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createSqliteStore } from '../../src/queue/sqlite/store.js'
import { newEvent, sealed } from '../queue/contract/helpers.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { queueDrained, type RelayProcess, startRelayProcess } from '../support/relay-process.js'
import {
  hmacSignature,
  standardWebhookHeaders,
  standardWebhookSecret,
  stripeHeader,
} from '../support/signers.js'
import { until } from '../support/until.js'

const TOKEN = `rwx-token-${randomUUID()}`
const HMAC_SECRET = `hmac-secret-${randomUUID()}`
const STRIPE_SECRET = `whsec_stripe_${randomUUID()}`
const SW_SECRET = standardWebhookSecret()
/** Every value sent in this file, for the leak checks at the end. */
const sentValues: string[] = []
const outputs: string[] = []
const dirs: string[] = []

function config(rwxUrl: string): string {
  return `
rwx: { url: "${rwxUrl}" }
store: sqlite:./data/relay.db
logLevel: \${LOG_LEVEL:-trace}
rateLimit: { max: 0 }
delivery: { backoffBaseMs: 50, backoffMaxMs: 400, batchWindowMs: 10, leaseSeconds: 30, authRetrySeconds: 1 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC_SECRET}"] }
    eventTime: /time
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
  - id: stripe
    verify: { type: stripe, secrets: ["${STRIPE_SECRET}"] }
    rules:
      - when: { /type: rotation.completed }
        secrets:
          - { vault: payments, name: "{{ /data/object/name | upper }}", value: /data/object/value, description: "from {{ /id }}" }
  - id: rotator
    verify: { type: standard-webhooks, secrets: ["${SW_SECRET}"] }
    rules:
      - secrets: [{ vault: "{{ /data/vault }}", name: "{{ /data/name }}", value: /data/value }]
`
}

let rwx: FakeRwx
let relay: RelayProcess | undefined
let dir: string

beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
})
afterAll(async () => {
  await rwx.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
afterEach(async () => {
  if (relay) {
    outputs.push(relay.output())
    if (relay.child.exitCode === null) await relay.kill('SIGKILL')
  }
  relay = undefined
  rwx.reset()
  await rwx.up().catch(() => {})
})

async function start(): Promise<RelayProcess> {
  relay = await startRelayProcess(dir, config(rwx.url), { RWX_ACCESS_TOKEN: TOKEN })
  return relay
}

function freshDir(): string {
  dir = mkdtempSync(join(tmpdir(), 'relay-e2e-'))
  dirs.push(dir)
  return dir
}

async function sendCi(name: string, value: string, time: number): Promise<Response> {
  sentValues.push(value)
  const body = JSON.stringify({ name, value, time, nonce: randomUUID() })
  return fetch(`${relay!.url}/hooks/ci`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sig': hmacSignature(HMAC_SECRET, body, { prefix: 'sha256=' }),
    },
    body,
  })
}

const stored = (vault: string, name: string) => rwx.secrets(vault).get(name)?.secret

describe('vault-relay end to end', () => {
  it('delivers signed events from three schemes to RWX', async () => {
    freshDir()
    await start()
    const v1 = `ci-value-${randomUUID()}`
    expect((await sendCi('DB_PASSWORD', v1, 1000)).status).toBe(202)

    const v2 = `stripe-value-${randomUUID()}`
    sentValues.push(v2)
    const t = Math.floor(Date.now() / 1000)
    const sbody = JSON.stringify({
      id: 'evt_1',
      type: 'rotation.completed',
      created: t,
      data: { object: { name: 'api_key', value: v2 } },
    })
    const sres = await fetch(`${relay!.url}/hooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': stripeHeader(STRIPE_SECRET, t, sbody),
      },
      body: sbody,
    })
    expect(sres.status).toBe(202)

    const v3 = `sw-value-${randomUUID()}`
    sentValues.push(v3)
    const wbody = JSON.stringify({
      type: 'secret.rotated',
      data: { vault: 'ops', name: 'DEPLOY_KEY', value: v3 },
    })
    const wres = await fetch(`${relay!.url}/hooks/rotator`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...standardWebhookHeaders({ id: 'msg_1', timestamp: t, body: wbody, secrets: [SW_SECRET] }),
      },
      body: wbody,
    })
    expect(wres.status).toBe(202)

    await rwx.waitFor((w) => w.length >= 3, 15_000)
    expect(stored('ci', 'DB_PASSWORD')).toBe(v1)
    expect(stored('payments', 'API_KEY')).toBe(v2)
    expect(stored('ops', 'DEPLOY_KEY')).toBe(v3)
    const req = rwx.requests.find((r) => r.status === 200)
    expect(req?.headers['user-agent']).toMatch(/^vault-relay\/\d+\.\d+\.\d+/)
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(req?.headers['content-type']).toMatch(/^application\/json/)
  })

  it('keeps accepting while RWX is down and delivers once it is back', async () => {
    freshDir()
    await start()
    await rwx.down()
    const values = Array.from({ length: 5 }, (_, i) => `down-value-${i}-${randomUUID()}`)
    for (const [i, v] of values.entries()) expect((await sendCi(`DOWN_${i}`, v, 1000)).status).toBe(202)
    await rwx.up()
    await rwx.waitFor((w) => values.every((v) => w.some((x) => x.secret === v)), 20_000)
    for (const [i, v] of values.entries()) expect(stored('ci', `DOWN_${i}`)).toBe(v)
  })

  it('delivers everything accepted after kill -9 and a restart', async () => {
    freshDir()
    await start()
    await rwx.down()
    const values = Array.from({ length: 30 }, (_, i) => `crash-value-${i}-${randomUUID()}`)
    for (const [i, v] of values.entries()) expect((await sendCi(`CRASH_${i}`, v, 1000)).status).toBe(202)
    outputs.push(relay!.output())
    expect(await relay!.kill('SIGKILL')).toBe('SIGKILL')
    relay = undefined
    await rwx.up()
    await start()
    await rwx.waitFor((w) => values.every((v) => w.some((x) => x.secret === v)), 30_000)
    for (const [i, v] of values.entries()) expect(stored('ci', `CRASH_${i}`)).toBe(v)
  }, 60_000)

  it('writes the newest value last when events for one name arrive out of order', async () => {
    freshDir()
    await start()
    rwx.delay(300, 1)
    const newest = `newest-${randomUUID()}`
    const older = `older-${randomUUID()}`
    const oldest = `oldest-${randomUUID()}`
    expect((await sendCi('ORDERED', oldest, 100)).status).toBe(202)
    expect((await sendCi('ORDERED', newest, 300)).status).toBe(202)
    expect((await sendCi('ORDERED', older, 200)).status).toBe(202)
    await rwx.waitFor((w) => w.some((x) => x.secret === newest), 15_000)
    // Anything still in flight settles; then the newest must be the last write for the name.
    await queueDrained(relay!)
    const writes = rwx.writes.filter((w) => w.vault === 'ci' && w.name === 'ORDERED')
    expect(writes.at(-1)?.secret).toBe(newest)
    expect(writes.some((w) => w.secret === older)).toBe(false)
    // A late event older than the delivered one is recorded, never sent.
    const late = `late-${randomUUID()}`
    expect((await sendCi('ORDERED', late, 50)).status).toBe(202)
    expect(rwx.writes.some((w) => w.secret === late)).toBe(false)
    expect(stored('ci', 'ORDERED')).toBe(newest)
  })

  it('keeps secrets while RWX refuses the token, says so in /readyz, and delivers once it is fixed', async () => {
    freshDir()
    await start()
    rwx.setToken('a-token-the-relay-does-not-have')
    const v = `auth-value-${randomUUID()}`
    expect((await sendCi('AUTH', v, 1)).status).toBe(202)
    await until(async () => {
      const res = await fetch(`${relay!.url}/readyz`)
      return res.status === 200 && ((await res.json()) as { rwx?: { auth?: string } }).rwx?.auth === 'failing'
    }, '/readyz to report the refused token')
    rwx.setToken(TOKEN)
    await rwx.waitFor((w) => w.some((x) => x.secret === v), 15_000)
    await until(async () => {
      const body = (await (await fetch(`${relay!.url}/readyz`)).json()) as { status: string }
      return body.status === 'ready'
    }, '/readyz to be ready again')
  })

  it('drains and exits 0 on SIGTERM', async () => {
    freshDir()
    await start()
    rwx.delay(500, 1)
    const v = `term-value-${randomUUID()}`
    expect((await sendCi('TERM', v, 1)).status).toBe(202)
    await rwx.waitFor((_w, r) => r.length >= 1, 10_000)
    expect(await relay!.kill('SIGTERM')).toBe(0)
    expect(stored('ci', 'TERM')).toBe(v)
  })

  it('purges finished events past retention.days at start-up, counts them, and stops on SIGTERM', async () => {
    freshDir()
    // A store an earlier run left: three events delivered ten days ago, and a late older value for one of
    // their names that arrived today (superseded on arrival: finished, but recent, so it stays).
    const store = createSqliteStore({ path: join(dir, 'data', 'relay.db') })
    const tenDaysAgo = Date.now() - 10 * 86_400_000
    for (const name of ['OLD_A', 'OLD_B', 'OLD_C']) {
      const value = `old-value-${randomUUID()}`
      sentValues.push(value)
      await store.enqueue(newEvent(2000, [sealed('ci', name, value)], { receivedAt: tenDaysAgo }))
    }
    const claimed = await store.claim({ owner: 'earlier', now: tenDaysAgo, leaseMs: 30_000, limit: 10 })
    await store.settle(
      'earlier',
      tenDaysAgo,
      claimed.map((c) => ({ id: c.id, kind: 'delivered' as const, version: 1 })),
    )
    const late = `late-value-${randomUUID()}`
    sentValues.push(late)
    const today = newEvent(1000, [sealed('ci', 'OLD_A', late)], { receivedAt: Date.now() })
    expect(await store.enqueue(today)).toMatchObject({ superseded: 1 })
    await store.close()

    relay = await startRelayProcess(dir, `${config(rwx.url)}retention: { days: 7 }\n`, {
      RWX_ACCESS_TOKEN: TOKEN,
    })
    const purgedLine = () =>
      relay!
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"purged finished events past retention"'))
    await until(() => purgedLine() !== undefined, 'the purge at start-up')
    expect(JSON.parse(purgedLine()!)).toMatchObject({
      level: 30,
      component: 'retention',
      deleted: 3,
      days: 7,
    })
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toContain('relay_purged_events_total 3')
    expect(await relay.kill('SIGTERM')).toBe(0)
  })

  it('leaks no value, signing secret or token into output or the store files', () => {
    const all = outputs.join('\n')
    expect(all.length).toBeGreaterThan(1000)
    expect(all).toContain('"level":10') // trace lines were written
    for (const secret of [TOKEN, HMAC_SECRET, STRIPE_SECRET, SW_SECRET, ...sentValues]) {
      expect(all.includes(secret), 'a secret appeared in the output').toBe(false)
    }
    for (const d of dirs) {
      for (const f of readdirSync(join(d, 'data'))) {
        if (f.endsWith('.key')) continue
        const bytes = readFileSync(join(d, 'data', f))
        for (const v of [...sentValues, TOKEN, HMAC_SECRET]) {
          expect(bytes.includes(Buffer.from(v)), `${f} holds a secret in plaintext`).toBe(false)
        }
      }
    }
  })
})
