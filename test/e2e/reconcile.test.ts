// End to end through the real process: reconciliation from a local Secrets Manager (rotations whose
// webhook never came), drift in the fake RWX found and repaired, the inventory's states, resync, and no
// value anywhere in the output or admin answers.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import {
  awsSdkEnv,
  type FakeSecretsManager,
  startFakeSecretsManager,
} from '../support/fake-secrets-manager.js'
import { type RelayProcess, runCli, startRelayProcess } from '../support/relay-process.js'
import { hmacSignature } from '../support/signers.js'
import { until } from '../support/until.js'

const ADMIN = `admin-${randomUUID()}`
const HMAC_SECRET = `hmac-${randomUUID()}`
let sm: FakeSecretsManager
let rwx: FakeRwx
let relay: RelayProcess
let dir: string
const values: string[] = []
const remember = (v: string) => {
  values.push(v)
  return v
}
let db = ''
let api = ''
const answers: string[] = []

const config = () => `
rwx: { url: "${rwx.url}" }
logLevel: debug
delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, keepDeadValuesSeconds: 3600 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["${HMAC_SECRET}"] }
    rules:
      - secrets: [{ vault: prod, name: "{{ /name }}", value: /value }]
  - id: aws-pull
    reconcile:
      every: 1s
      jitter: 0
      secrets:
        - { vault: prod, name: DB_PASSWORD, value: { awsSecretsManager: { secretId: "${db}", jsonKey: password } } }
        - { vault: prod, name: NEVER_CREATED, value: { awsSecretsManager: { secretId: prod/not-there } } }
  - id: aws-repair
    reconcile:
      every: 1s
      repair: true
      secrets:
        - { vault: prod, name: API_TOKEN, value: { awsSecretsManager: { secretId: "${api}" } } }
`

async function admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${relay.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  answers.push(text)
  expect(res.status, text).toBe(200)
  return JSON.parse(text)
}

interface Entry {
  vault: string
  name: string
  state: string
  sourceVersion: string | null
  written: { version: number } | null
  readBack: { version: number | null } | null
  lastReconcile: { outcome: string } | null
}
const entry = async (name: string): Promise<Entry | undefined> =>
  ((await admin('GET', '/admin/secrets')).secrets as Entry[]).find((e) => e.name === name)
const stateOf = async (name: string) => (await entry(name))?.state

const written = (name: string, value: string) =>
  rwx.waitFor((w) => w.some((x) => x.vault === 'prod' && x.name === name && x.secret === value), 15_000)

function rotate(arn: string, value: string): string {
  const version = sm.putPending(arn, remember(value))
  sm.promote(arn, version)
  return version
}

beforeAll(async () => {
  ;[sm, rwx] = await Promise.all([startFakeSecretsManager(), startFakeRwx({ token: `rwx-${randomUUID()}` })])
  db = sm.create('prod/db', remember(JSON.stringify({ password: `first-${randomUUID()}` }))).arn
  api = sm.create('prod/api', remember(`api-first-${randomUUID()}`)).arn
  dir = mkdtempSync(join(tmpdir(), 'relay-reconcile-e2e-'))
  relay = await startRelayProcess(dir, config(), {
    ...awsSdkEnv(sm, dir),
    RWX_ACCESS_TOKEN: rwx.token,
    RELAY_ADMIN_TOKEN: ADMIN,
  })
}, 30_000)

afterAll(async () => {
  await relay?.kill('SIGKILL')
  await Promise.all([sm?.close(), rwx?.close()])
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('reconciliation end to end (real process, local Secrets Manager and RWX)', () => {
  it('delivers the current versions at the first sweep; a secret never seen is unknown', async () => {
    await written('DB_PASSWORD', JSON.parse(values[0]!).password)
    await written('API_TOKEN', values[1]!)
    await until(async () => (await stateOf('DB_PASSWORD')) === 'in-sync', 'DB_PASSWORD in sync')
    const never = await entry('NEVER_CREATED')
    expect(never).toMatchObject({ state: 'unknown', lastReconcile: { outcome: 'missing' } })
    // pull-only: no webhook route
    expect((await fetch(`${relay.url}/hooks/aws-pull`, { method: 'POST', body: '{}' })).status).toBe(404)
  })

  it('a rotation whose webhook never came reaches RWX within one sweep', async () => {
    const password = `rotated-${randomUUID()}`
    const version = rotate(db, JSON.stringify({ password }))
    remember(password)
    await written('DB_PASSWORD', password)
    await until(async () => (await entry('DB_PASSWORD'))?.sourceVersion === version, 'the new version seen')
    const provenance = await admin(
      'GET',
      `/admin/events/aws-pull/${encodeURIComponent(`reconcile:prod/DB_PASSWORD:${version}`)}`,
    )
    expect(provenance).toMatchObject({ provenance: { verifier: 'reconcile' } })
  })

  it('a hand edit in RWX is drift: reported, counted, left alone without repair', async () => {
    await until(async () => (await stateOf('DB_PASSWORD')) === 'in-sync', 'in sync before the edit')
    const before = rwx.writes.filter((w) => w.name === 'DB_PASSWORD').length
    const held = rwx.secrets('prod').get('DB_PASSWORD')!.version
    rwx.alter('prod', 'DB_PASSWORD', held + 10)
    await until(async () => (await stateOf('DB_PASSWORD')) === 'drift', 'DB_PASSWORD in drift', 15_000)
    const e = await entry('DB_PASSWORD')
    expect(e).toMatchObject({ written: { version: held }, readBack: { version: held + 10 } })
    const drift = await admin('GET', '/admin/secrets?state=drift')
    expect((drift.secrets as Entry[]).map((s) => s.name)).toEqual(['DB_PASSWORD'])
    const metrics = await (await fetch(`${relay.url}/metrics`)).text()
    expect(metrics).toMatch(/relay_drift_secrets 1/)
    expect(metrics).toMatch(/relay_inventory_secrets\{state="drift"\} 1/)
    expect(metrics).toMatch(/relay_reconcile_sweeps_total\{source="aws-pull",outcome="ok"\} [1-9]/)
    expect(metrics).toMatch(/relay_reconcile_last_success_timestamp_seconds\{source="aws-pull"\} \d/)
    expect(rwx.writes.filter((w) => w.name === 'DB_PASSWORD')).toHaveLength(before)
  })

  it('resync --force through the CLI writes the current version again, which ends the drift', async () => {
    const before = rwx.writes.filter((w) => w.name === 'DB_PASSWORD').length
    const env = { RELAY_URL: relay.url, RELAY_ADMIN_TOKEN: ADMIN }
    const done = await runCli(['resync', '--force', 'prod/DB_PASSWORD', 'prod/NOT_RECONCILED'], { env })
    answers.push(done.out, done.err)
    expect(done.out).toMatch(/prod\/DB_PASSWORD {2}queued/)
    expect(done.out).toContain('prod/NOT_RECONCILED  not reconciled')
    expect(done.code).toBe(1)
    await rwx.waitFor((w) => w.filter((x) => x.name === 'DB_PASSWORD').length > before)
    await until(async () => (await stateOf('DB_PASSWORD')) === 'in-sync', 'in sync after resync')
    const listed = await runCli(['secrets', '--json'], { env })
    answers.push(listed.out)
    const doc = JSON.parse(listed.out) as { secrets: Entry[] }
    expect(doc.secrets.map((s) => [s.name, s.state])).toEqual([
      ['API_TOKEN', 'in-sync'],
      ['DB_PASSWORD', 'in-sync'],
      ['NEVER_CREATED', 'unknown'],
    ])
  })

  it('with repair: true, drift is written again from the source', async () => {
    await until(async () => (await stateOf('API_TOKEN')) === 'in-sync', 'API_TOKEN in sync')
    const held = rwx.secrets('prod').get('API_TOKEN')!.version
    const before = rwx.writes.filter((w) => w.name === 'API_TOKEN').length
    rwx.alter('prod', 'API_TOKEN', held + 5)
    await rwx.waitFor((w) => w.filter((x) => x.name === 'API_TOKEN').length > before, 15_000)
    expect(rwx.writes.at(-1)).toMatchObject({ name: 'API_TOKEN', secret: values[1] })
    await until(async () => (await stateOf('API_TOKEN')) === 'in-sync', 'API_TOKEN in sync after repair')
  })

  it('a dead secret from a webhook is not lost: its value is kept, and retry delivers it', async () => {
    const value = remember(`ci-${randomUUID()}`)
    const body = JSON.stringify({ name: 'CI_TOKEN', value })
    rwx.rejectNames((n) => n === 'CI_TOKEN')
    const res = await fetch(`${relay.url}/hooks/ci`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sig': hmacSignature(HMAC_SECRET, body) },
      body,
    })
    const { event } = (await res.json()) as { event: string }
    expect(res.status).toBe(202)
    await until(async () => (await stateOf('CI_TOKEN')) === 'dead', 'CI_TOKEN dead')
    expect((await entry('CI_TOKEN')) as unknown).toMatchObject({
      source: 'ci',
      lastError: expect.any(String),
    })
    rwx.rejectNames(null)
    const env = { RELAY_URL: relay.url, RELAY_ADMIN_TOKEN: ADMIN }
    const retried = await runCli(['retry', 'ci', event], { env })
    answers.push(retried.out, retried.err)
    expect(retried.out).toContain('1 secret(s) queued')
    expect(retried.code).toBe(0)
    await written('CI_TOKEN', value)
    await until(async () => (await stateOf('CI_TOKEN')) === 'in-sync', 'CI_TOKEN in sync')
  })

  it('never shows a value in the output or an admin answer', () => {
    const out = relay.output()
    expect(out).toContain('reconcile: sweep done')
    for (const v of values) {
      expect(out).not.toContain(v)
      for (const a of answers) expect(a).not.toContain(v)
    }
    expect(out).not.toContain(rwx.token)
  })
})
