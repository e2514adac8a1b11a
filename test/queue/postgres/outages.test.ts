// PostgreSQL outages: 503 while the database is away, recovery without a restart, and waiting at start-up
// for a database not reachable yet.
import { randomBytes } from 'node:crypto'
import { describe, expect, inject, it } from 'vitest'
import { buildApp } from '../../../src/app.js'
import { createPauseSwitch } from '../../../src/delivery/pause.js'
import { isRelayError } from '../../../src/errors.js'
import { parseConfig } from '../../../src/load-config.js'
import { createLogger } from '../../../src/log.js'
import { createMetrics } from '../../../src/metrics.js'
import { createSealer } from '../../../src/queue/crypto.js'
import { createPostgresStoreWhenReachable } from '../../../src/queue/postgres/store.js'
import type { Store } from '../../../src/queue/store.js'
import { buildSources } from '../../../src/receive/sources.js'
import { adminQuery, createTestDatabase, startEmbeddedPostgres } from '../../support/postgres.js'
import { until } from '../../support/until.js'
import { LEASE_MS, newEvent, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

const adminUrl = inject('pgAdminUrl')

describe('postgres store', () => {
  const { stores, open, freshDb } = storesOnFreshDatabases()

  describe('outages', () => {
    const yaml = `
rateLimit: { max: 0 }
sources:
  - id: ops
    verify: { type: api-key, header: x-key, keys: ["k"] }
    rules:
      - secrets: [{ vault: ops, name: "{{ /name }}", value: /value }]
`
    const sealer = createSealer(randomBytes(32))
    async function appOn(store: Store) {
      const config = parseConfig(yaml, { RWX_ACCESS_TOKEN: 't' })
      const app = await buildApp(config, {
        store,
        sealer,
        sources: buildSources(config.sources, {}),
        metrics: createMetrics(store),
        pause: createPauseSwitch({ store, clock: Date.now }),
        logger: createLogger('silent'),
      })
      await app.ready()
      return app
    }
    const hook = (name: string) => ({
      method: 'POST' as const,
      url: '/hooks/ops',
      headers: { 'x-key': 'k', 'content-type': 'application/json' },
      payload: JSON.stringify({ name, value: `v-${name}` }),
    })

    /** Runs the outage checks around `down`/`up`, with a store (and app) that is never reopened. */
    async function survives(url: string, down: () => Promise<void>, up: () => Promise<void>): Promise<void> {
      const store = await open(url, { connectTimeoutMs: 1000, statementTimeoutMs: 2000 })
      const app = await appOn(store)
      try {
        const before = newEvent(T0, [sealed('v', 'BEFORE', 'kept')])
        await store.enqueue(before)
        expect((await app.inject(hook('FIRST'))).statusCode).toBe(202)
        await down()
        const refused = await store
          .enqueue(newEvent(T0, [sealed('v', 'DURING', 'x')]))
          .catch((e: unknown) => e)
        expect(isRelayError(refused, 'ERR_STORE_UNAVAILABLE')).toBe(true)
        expect((refused as { retryAfter?: number }).retryAfter).toBeGreaterThanOrEqual(1)
        await expect(store.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryAfter: 5 })
        await expect(store.claim({ owner: 'w', now: T0, leaseMs: 1, limit: 1 })).rejects.toMatchObject({
          code: 'ERR_STORE_UNAVAILABLE',
        })
        const during = await app.inject(hook('DURING'))
        expect(during.statusCode).toBe(503)
        expect(during.headers['retry-after']).toBeDefined()
        expect(during.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
        const ready = await app.inject({ method: 'GET', url: '/readyz' })
        expect(ready.statusCode).toBe(503)
        expect(ready.headers['retry-after']).toBeDefined()
        await up()
        // the same store and app recover on their own once the database answers again
        await until(
          () =>
            store.ping().then(
              () => true,
              () => false,
            ),
          'the store to reach the database',
          20_000,
        )
        expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
        expect((await app.inject(hook('DURING'))).statusCode).toBe(202)
        expect(await store.enqueue(before)).toMatchObject({ duplicate: true })
        const claimed = await store.claim({
          owner: 'w',
          now: Date.now() + 1000,
          leaseMs: LEASE_MS,
          limit: 10,
        })
        expect(claimed.map((c) => c.name).sort()).toEqual(['BEFORE', 'DURING', 'FIRST'])
      } finally {
        await app.close()
      }
    }

    it('answers 503 while connections are cut and refused, then recovers without a restart', async () => {
      const db = await freshDb()
      await survives(
        db.url,
        async () => {
          await adminQuery(adminUrl, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`)
          await adminQuery(
            adminUrl,
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [db.name],
          )
        },
        async () => {
          await adminQuery(adminUrl, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
        },
      )
    })

    /** A warn-level logger whose lines the test reads. */
    function capturedLog() {
      const lines: string[] = []
      const log = createLogger('warn', { write: (line: string) => lines.push(line) })
      return { log, lines }
    }

    it.skipIf(!inject('pgEmbedded'))(
      'waits at start-up for a database that cannot be reached yet, then opens on it',
      async () => {
        const server = await startEmbeddedPostgres()
        try {
          const db = await createTestDatabase(server.url)
          await server.stop()
          const { log, lines } = capturedLog()
          const opening = createPostgresStoreWhenReachable(
            { url: db.url, poolSize: 2, log, connectTimeoutMs: 2_000 },
            { firstDelayMs: 50, maxDelayMs: 200 },
          )
          // a warning a try, and still trying
          await until(() => lines.length >= 2, 'two warnings while the database is down', 20_000)
          await server.start()
          const store = await opening
          stores.push(store)
          await store.ping()
          expect(await store.enqueue(newEvent(T0, [sealed('v', 'A', 'after-the-wait')]))).toMatchObject({
            queued: 1,
          })
          expect(lines.every((l) => l.includes('PostgreSQL cannot be reached yet'))).toBe(true)
          // the URL (it holds the password) is never in the log
          expect(lines.join('\n')).not.toContain(new URL(db.url).password || db.url)
        } finally {
          for (const store of stores.splice(0)) await store.close().catch(() => {})
          await server.destroy()
        }
      },
      60_000,
    )

    it('does not wait for a database that turns the relay away: it fails at once', async () => {
      const { log, lines } = capturedLog()
      const missing = new URL(adminUrl)
      missing.pathname = `/no_such_database_${randomBytes(4).toString('hex')}`
      const opening = createPostgresStoreWhenReachable(
        { url: missing.toString(), poolSize: 1, log },
        { firstDelayMs: 60_000, maxDelayMs: 60_000 },
      )
      await expect(opening).rejects.toThrow(/3D000|does not exist/)
      expect(lines).toEqual([])
    })

    it.skipIf(!inject('pgEmbedded'))(
      'answers 503 while the server is stopped, then recovers when it is started again',
      async () => {
        const server = await startEmbeddedPostgres()
        try {
          const db = await createTestDatabase(server.url)
          await survives(
            db.url,
            () => server.stop(),
            () => server.start(),
          )
        } finally {
          for (const store of stores.splice(0)) await store.close().catch(() => {})
          await server.destroy()
        }
      },
      60_000,
    )
  })
})
