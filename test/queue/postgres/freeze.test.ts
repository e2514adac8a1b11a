// A frozen PostgreSQL (SIGSTOP: connections open, nothing answers): webhooks and /readyz get 503 within
// postgres.enqueueTimeoutMs, and once it thaws every event is stored once, whichever commit landed.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { buildApp } from '../../../src/app.js'
import { createPauseSwitch } from '../../../src/delivery/pause.js'
import { parseConfig } from '../../../src/load-config.js'
import { createLogger } from '../../../src/log.js'
import { createMetrics } from '../../../src/metrics.js'
import { createSealer } from '../../../src/queue/crypto.js'
import { buildSources } from '../../../src/receive/sources.js'
import { adminQuery, createTestDatabase, startEmbeddedPostgres } from '../../support/postgres.js'
import { until } from '../../support/until.js'
import { storesOnFreshDatabases } from './fixtures.js'

/** The postmaster of the server in `dataDir` and every process it started (backends, checkpointer…). */
function serverProcesses(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
        // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster
      } catch {
        return false
      }
    })
    .map(Number)
  return [postmaster, ...children]
}

const TIMEOUT_MS = 1_000

describe('postgres store', () => {
  const { stores, open } = storesOnFreshDatabases()

  it.skipIf(!inject('pgEmbedded'))(
    'answers 503 within enqueueTimeoutMs while the database is frozen, then keeps each event once',
    async () => {
      const server = await startEmbeddedPostgres()
      let frozen: number[] = []
      const thaw = () => {
        for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT')
      }
      try {
        const db = await createTestDatabase(server.url)
        // statements may run far longer than the freeze: the commit sent before it lands after it
        const store = await open(db.url, {
          poolSize: 2,
          statementTimeoutMs: 60_000,
          enqueueTimeoutMs: TIMEOUT_MS,
        })
        const config = parseConfig(
          `
rateLimit: { max: 0 }
sources:
  - id: ops
    verify: { type: api-key, header: x-key, keys: ["k"] }
    rules:
      - secrets: [{ vault: ops, name: "{{ /name }}", value: /value }]
`,
          { RWX_ACCESS_TOKEN: 't' },
        )
        const app = await buildApp(config, {
          store,
          sealer: createSealer(randomBytes(32)),
          sources: buildSources(config.sources, {}),
          metrics: createMetrics(store),
          pause: createPauseSwitch({ store, clock: Date.now }),
          logger: createLogger('silent'),
        })
        await app.ready()
        const hook = (name: string) =>
          app.inject({
            method: 'POST',
            url: '/hooks/ops',
            headers: { 'x-key': 'k', 'content-type': 'application/json' },
            payload: JSON.stringify({ name, value: `v-${name}` }),
          })
        try {
          expect((await hook('BEFORE')).statusCode).toBe(202)

          frozen = serverProcesses(server.dataDir)
          for (const pid of frozen) process.kill(pid, 'SIGSTOP')
          const started = Date.now()
          // several at once: some in a statement sent to the frozen server, perhaps some waiting behind it
          const names = ['A', 'B', 'C', 'D']
          const answers: Array<{ statusCode: number; headers: Record<string, unknown>; json(): unknown }> = []
          const pending = names.map((n) => hook(n).then((r) => answers.push(r)))
          const ready = app.inject({ method: 'GET', url: '/readyz' }).then((r) => answers.push(r))
          await until(() => answers.length === names.length + 1, 'answers while frozen', 4 * TIMEOUT_MS)
          await Promise.all([...pending, ready])
          expect(Date.now() - started).toBeLessThan(3 * TIMEOUT_MS)
          for (const res of answers) {
            expect(res.statusCode).toBe(503)
            expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
            expect(res.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
          }

          thaw()
          await until(
            () =>
              store.ping().then(
                () => true,
                () => false,
              ),
            'the thawed database to answer',
            20_000,
          )
          // the statements sent before the freeze run to their end now, and commit
          await until(
            async () =>
              (
                await adminQuery<{ n: number }>(
                  server.url,
                  `SELECT count(*)::int AS n FROM pg_stat_activity
                   WHERE application_name = 'vault-relay' AND state <> 'idle'`,
                )
              ).rows[0]!.n === 0,
            'the statements sent before the freeze to end',
            20_000,
          )
          // the provider sends each again: the ones whose statement landed late are duplicates
          const resent = await Promise.all(names.map((n) => hook(n)))
          const statuses = resent.map((r) => r.statusCode)
          for (const s of statuses) expect([200, 202]).toContain(s)
          expect(statuses).toContain(200)
          for (const r of resent.filter((r) => r.statusCode === 200)) {
            expect(r.json()).toMatchObject({ duplicate: true })
          }
          const { rows } = await adminQuery<{ name: string; n: number }>(
            db.url,
            'SELECT name, count(*)::int AS n FROM secrets GROUP BY name ORDER BY name',
          )
          expect(rows).toEqual(['A', 'B', 'BEFORE', 'C', 'D'].map((name) => ({ name, n: 1 })))
          const events = await adminQuery<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM events')
          expect(events.rows[0]!.n).toBe(5)
        } finally {
          thaw()
          await app.close()
        }
      } finally {
        thaw()
        for (const s of stores.splice(0)) await s.close().catch(() => {})
        await server.destroy()
      }
    },
    90_000,
  )
})
