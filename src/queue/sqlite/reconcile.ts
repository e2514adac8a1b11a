// Reconciliation data in SQLite: the inventory's facts, reconcile marks per name, and each source's sweep.
import type Database from 'better-sqlite3'
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
import type { InventoryFacts, InventoryQuery, ReconcileMark, SweepState } from '../store.js'

const p: Placeholder = (n) => `@p${n}`

/** Positional values as the named parameters `p` writes (`@p1`, `@p2`, …). */
const named = (...values: unknown[]): Record<string, unknown> =>
  Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]))

/** The reconciliation half of a Store, in SQLite (synchronous: one process, one connection). */
export interface SqliteReconcile {
  inventory(query: InventoryQuery): InventoryFacts[]
  recordReconcile(marks: ReconcileMark[]): void
  claimSweep(
    source: string,
    owner: string,
    now: number,
    leaseMs: number,
    force: boolean,
  ): { claimed: boolean; state: SweepState }
  finishSweep(source: string, owner: string, now: number, outcome: 'ok' | 'failed', nextDueAt: number): void
  sweeps(): SweepState[]
}

export function createSqliteReconcile(db: Database.Database): SqliteReconcile {
  // One statement per filter shape, prepared when first used.
  const inventories = new Map<string, Database.Statement<[Record<string, unknown>], InventoryRow>>()
  const inventoryFor = (by: { vault: boolean; name: boolean }) => {
    const key = `${by.vault}:${by.name}`
    let statement = inventories.get(key)
    if (statement === undefined) {
      statement = db.prepare<[Record<string, unknown>], InventoryRow>(inventorySql(p, by))
      inventories.set(key, statement)
    }
    return statement
  }
  const upsert = db.prepare<[Record<string, unknown>]>(upsertMarkSql(p))
  const upsertAll = db.transaction((marks: ReconcileMark[]) => {
    for (const m of marks) upsert.run(named(...markParams(m)))
  })
  const claim = db.prepare<[Record<string, unknown>], SweepRow>(claimSweepSql(p))
  const finish = db.prepare<[Record<string, unknown>]>(finishSweepSql(p))
  const one = db.prepare<[string], SweepRow>(`SELECT ${SWEEP_COLUMNS} FROM reconcile_sweeps WHERE source = ?`)
  const all = db.prepare<[], SweepRow>(`SELECT ${SWEEP_COLUMNS} FROM reconcile_sweeps ORDER BY source`)
  return {
    inventory(query) {
      const limit = Math.max(0, Math.floor(query.limit))
      const by = { vault: query.vault !== undefined, name: query.name !== undefined }
      return inventoryFor(by)
        .all(named(query.vault ?? null, query.name ?? null, limit))
        .map(toFacts)
    },
    recordReconcile(marks) {
      if (marks.length > 0) upsertAll.immediate(marks)
    },
    claimSweep(source, owner, now, leaseMs, force) {
      const row = claim.get(named(source, owner, now + leaseMs, now, force ? 1 : 0))
      if (row !== undefined) return { claimed: true, state: toSweep(row) }
      const stored = one.get(source)
      return { claimed: false, state: stored === undefined ? neverSwept(source) : toSweep(stored) }
    },
    finishSweep(source, owner, now, outcome, nextDueAt) {
      finish.run(named(source, owner, now, outcome, nextDueAt))
    },
    sweeps: () => all.all().map(toSweep),
  }
}
