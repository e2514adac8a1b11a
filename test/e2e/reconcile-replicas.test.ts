// Two real relay processes on one PostgreSQL database reconcile the same source: one sweeps at a time
// (the sweep lease), and every rotation reaches RWX exactly once.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import {
  awsSdkEnv,
  type FakeSecretsManager,
  startFakeSecretsManager,
} from '../support/fake-secrets-manager.js'
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/postgres.js'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'

const KEY = randomBytes(32).toString('base64')
let db: TestDatabase
let sm: FakeSecretsManager
let rwx: FakeRwx
const relays: RelayProcess[] = []
const dirs: string[] = []
const values: string[] = []

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'))
  ;[sm, rwx] = await Promise.all([startFakeSecretsManager(), startFakeRwx({ token: `rwx-${randomUUID()}` })])
}, 60_000)

afterAll(async () => {
  await Promise.all(relays.map((r) => r.kill('SIGKILL')))
  await Promise.all([sm?.close(), rwx?.close()])
  await db?.drop().catch(() => {})
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('reconciliation with two replicas on PostgreSQL', () => {
  it('sweeps one replica at a time and writes each rotation once', async () => {
    const names = ['A', 'B', 'C']
    const arns = names.map((n) => {
      const value = `first-${n}-${randomUUID()}`
      values.push(value)
      return sm.create(`prod/${n}`, value).arn
    })
    const yaml = `
rwx: { url: "${rwx.url}" }
store: "${db.url}"
logLevel: debug
delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5 }
sources:
  - id: aws
    reconcile:
      every: 1s
      secrets:
${names.map((n, i) => `        - { vault: prod, name: ${n}, value: { awsSecretsManager: { secretId: "${arns[i]}" } } }`).join('\n')}
`
    const env = {
      RWX_ACCESS_TOKEN: rwx.token,
      RELAY_ENCRYPTION_KEY: KEY,
    }
    relays.push(
      ...(await Promise.all(
        [0, 1].map(() => {
          const dir = mkdtempSync(join(tmpdir(), 'relay-reconcile-replica-'))
          dirs.push(dir)
          return startRelayProcess(dir, yaml, { ...env, ...awsSdkEnv(sm, dir) })
        }),
      )),
    )
    const has = (name: string, value: string) =>
      rwx.waitFor((w) => w.some((x) => x.name === name && x.secret === value), 20_000)
    await Promise.all(names.map((n, i) => has(n, values[i]!)))
    // Three rounds of rotations, no webhook: each reaches RWX through a sweep.
    for (let round = 0; round < 3; round++) {
      const rotated = names.map((n, i) => {
        const value = `round${round}-${n}-${randomUUID()}`
        values.push(value)
        sm.promote(arns[i]!, sm.putPending(arns[i]!, value))
        return value
      })
      await Promise.all(names.map((n, i) => has(n, rotated[i]!)))
    }
    // Several sweeps more with nothing new: nothing is written again.
    const writes = rwx.writes.length
    const sweepsDone = () =>
      relays.reduce((n, r) => n + (r.output().match(/reconcile: sweep done/g) ?? []).length, 0)
    const sweptBefore = sweepsDone()
    await until(() => sweepsDone() >= sweptBefore + 3, 'three more sweeps', 20_000)
    expect(rwx.writes.length).toBe(writes)
    for (const v of values)
      expect(
        rwx.writes.filter((w) => w.secret === v),
        v,
      ).toHaveLength(1)
    // The sweep lease is one row for the source, shared by both replicas.
    const { rows } = await adminQuery<{ source: string; last_outcome: string }>(
      db.url,
      'SELECT source, last_outcome FROM reconcile_sweeps',
    )
    expect(rows).toEqual([{ source: 'aws', last_outcome: 'ok' }])
    for (const r of relays) for (const v of values) expect(r.output()).not.toContain(v)
  })
})
