// Reconciliation data in PostgreSQL: the inventory's facts, reconcile marks per name, and each source's
// sweep, whose lease row lets one replica at a time sweep a source.
import type pg from 'pg'
import {
  claimSweepSql,
  finishSweepSql,
  type InventoryRow,
  inventorySql,
  markParams,
  neverSwept,
  type Placeholder,
  SWEEP_COLUMNS,
  type SweepRow,
  toFacts,
  toSweep,
  upsertMarkSql,
} from '../inventory.js'
import type { Store } from '../store.js'
import { transaction } from './pool.js'

const p: Placeholder = (n, type) => `$${n}::${type === 'int' ? 'bigint' : 'text'}`

/** The reconciliation half of a Store, in PostgreSQL. */
export type PostgresReconcile = Pick<
  Store,
  'inventory' | 'recordReconcile' | 'claimSweep' | 'finishSweep' | 'sweeps'
>

export function createPostgresReconcile(pool: pg.Pool): PostgresReconcile {
  const upsert = upsertMarkSql(p)
  const claim = claimSweepSql(p)
  const finish = finishSweepSql(p)
  return {
    async inventory(query) {
      const limit = Math.max(0, Math.floor(query.limit))
      const by = { vault: query.vault !== undefined, name: query.name !== undefined }
      const { rows } = await pool.query<InventoryRow>(inventorySql(p, by), [
        query.vault ?? null,
        query.name ?? null,
        limit,
      ])
      return rows.map(toFacts)
    },
    async recordReconcile(marks) {
      if (marks.length === 0) return
      await transaction(pool, async (db) => {
        for (const m of marks) await db.query(upsert, markParams(m))
      })
    },
    async claimSweep(source, owner, now, leaseMs, force) {
      const { rows } = await pool.query<SweepRow>(claim, [source, owner, now + leaseMs, now, force ? 1 : 0])
      const row = rows[0]
      if (row !== undefined) return { claimed: true, state: toSweep(row) }
      const stored = await pool.query<SweepRow>(
        `SELECT ${SWEEP_COLUMNS} FROM reconcile_sweeps WHERE source = $1`,
        [source],
      )
      const found = stored.rows[0]
      return { claimed: false, state: found === undefined ? neverSwept(source) : toSweep(found) }
    },
    async finishSweep(source, owner, now, outcome, nextDueAt) {
      await pool.query(finish, [source, owner, now, outcome, nextDueAt])
    },
    async sweeps() {
      const { rows } = await pool.query<SweepRow>(
        `SELECT ${SWEEP_COLUMNS} FROM reconcile_sweeps ORDER BY source`,
      )
      return rows.map(toSweep)
    },
  }
}
