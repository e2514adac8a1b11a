// Migrating the PostgreSQL queue: replicas starting together, a database newer than the relay, a
// database out of reach.
import { describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../../src/queue/postgres/migrations/index.js'
import { createPostgresStore } from '../../../src/queue/postgres/store.js'
import { adminQuery } from '../../support/postgres.js'
import { LEASE_MS, newEvent, opened, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

describe('postgres store', () => {
  const { open, freshDb } = storesOnFreshDatabases()

  describe('migrations', () => {
    it('applies each version once when several replicas start together, and again finds nothing to do', async () => {
      const db = await freshDb()
      const [first, ...others] = await Promise.all(Array.from({ length: 5 }, () => open(db.url)))
      await open(db.url)
      const { rows } = await adminQuery<{ version: number }>(
        db.url,
        'SELECT version FROM schema_migrations ORDER BY version',
      )
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
      await first!.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
      expect(
        (await others[3]!.claim({ owner: 'w', now: T0, leaseMs: LEASE_MS, limit: 10 })).map(opened),
      ).toEqual(['a'])
    })

    it('refuses a database written by a newer version of the relay', async () => {
      const db = await freshDb()
      await (await open(db.url)).close()
      await adminQuery(db.url, 'INSERT INTO schema_migrations (version) VALUES ($1)', [MIGRATIONS.length + 1])
      await expect(createPostgresStore({ url: db.url, poolSize: 1 })).rejects.toThrow(
        /newer than this relay knows/,
      )
    })

    it('fails to open, without the password, when the database cannot be reached', async () => {
      const url = 'postgres://relay:hunter2-password@127.0.0.1:1/relay'
      const failed = await createPostgresStore({ url, poolSize: 1, connectTimeoutMs: 1000 }).catch(
        (e: Error) => e,
      )
      expect(failed).toBeInstanceOf(Error)
      expect((failed as Error).message).toMatch(/cannot open the PostgreSQL queue store/)
      expect((failed as Error).message).not.toContain('hunter2')
    })
  })
})
