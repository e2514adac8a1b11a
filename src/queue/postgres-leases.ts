// The worker side of the PostgreSQL queue: leasing due secrets (one per name across every replica),
// recording outcomes and the never-regress watermark, giving leases back.
import type pg from 'pg'
import { lockNames, type NameKey } from './postgres-names.js'
import { statement, transaction } from './postgres-pool.js'
import { type ClaimRow, toClaimed } from './sqlite-rows.js'
import type { Claimed, ClaimOptions, Outcome } from './store.js'

/** A queued secret of the name that may be sent now: due, not leased, and nothing of its name in flight. */
const CLAIMABLE = `s.status = 'queued' AND s.next_attempt_at <= $1
  AND (s.lease_until IS NULL OR s.lease_until <= $1)
  AND NOT EXISTS (SELECT 1 FROM secrets o WHERE o.vault = s.vault AND o.name = s.name AND o.id <> s.id
    AND o.lease_owner IS NOT NULL AND o.lease_until > $1)`

/**
 * The vaults of the oldest `$2` due secrets not under a live lease, each with how many of them it holds,
 * in the order their oldest one has waited. When they are `$2` (more is due than one claim takes), the
 * claim takes whole vaults in this order.
 */
const DUE_VAULTS = `SELECT vault, COUNT(*)::int AS due FROM (
    SELECT vault, next_attempt_at, id FROM secrets
    WHERE status = 'queued' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY next_attempt_at, id LIMIT $2
  ) d GROUP BY vault ORDER BY MIN(next_attempt_at), MIN(id)`

/**
 * Locks the names of up to `$2` claimable secrets, oldest due first, `FOR UPDATE SKIP LOCKED` (the limit
 * counts the names locked, after those skipped), leaving out the names in `$3`/`$4`: those of one vault
 * (`$5`, read in due order through secrets_vault_due) or of any vault.
 */
const LOCK = (oneVault: boolean) => `SELECT n.vault, n.name FROM secrets s
  JOIN names n ON n.vault = s.vault AND n.name = s.name
  WHERE ${oneVault ? 's.vault = $5 AND ' : ''}${CLAIMABLE}
    AND (s.vault, s.name) NOT IN (SELECT * FROM unnest($3::text[], $4::text[]))
  ORDER BY s.next_attempt_at, s.id LIMIT $2
  FOR UPDATE OF n SKIP LOCKED`
const LOCK_IN_VAULT = LOCK(true)
const LOCK_ANY = LOCK(false)

/** Most vaults one claim locks one by one (a statement each) before it takes the rest in due order. */
const WHOLE_VAULTS_PER_CLAIM = 16

/**
 * Leases up to `limit` due secrets to `owner`, in one transaction.
 *
 * 1. Lock the `names` rows of names that look claimable, `FOR UPDATE SKIP LOCKED`: a name another
 *    replica is claiming, or an enqueue, settle or admin change is writing, is skipped (it is claimed
 *    on a later round) instead of waited for, so claimers never queue behind each other and never take
 *    part in a deadlock. Each look uses a snapshot taken before its locks.
 *
 *    A request carries one vault. When more is due than one claim takes (DUE_VAULTS), the claim locks
 *    whole vaults, the longest-waiting first, as the SQLite store does: a backlog spread over many
 *    vaults then goes out in full requests instead of a few secrets of every vault each. What the
 *    vaults do not fill (names held back by a value in flight, or locked by another replica), and
 *    everything when it all fits, is locked in due order, whatever the vault.
 * 2. Lease, with a fresh snapshot (READ COMMITTED takes one per statement, after the locks are held),
 *    the newest queued secret of each locked name if it is still claimable. Every writer of a name
 *    holds its row lock (see lockNames), so nothing about these names can change between the check
 *    and the lease: no other replica can lease a second secret of a name, the in-flight check sees
 *    every committed lease, and a value superseded meanwhile is not leased.
 *
 * So at most one live lease per vault and name exists across all replicas; an expired lease counts as
 * none, which is how a replica that died mid-delivery has its work taken over.
 */
async function claim(pool: pg.Pool, { owner, now, leaseMs, limit }: ClaimOptions): Promise<Claimed[]> {
  return transaction(pool, async (db) => {
    const locked: NameKey[] = []
    const lock = async (sql: string, vault?: string) => {
      const { rows } = await db.query<NameKey>(sql, [
        now,
        limit - locked.length,
        locked.map((k) => k.vault),
        locked.map((k) => k.name),
        ...(vault === undefined ? [] : [vault]),
      ])
      locked.push(...rows)
    }
    const due = await db.query<{ vault: string; due: number }>(DUE_VAULTS, [now, limit])
    if (due.rows.length === 0) return []
    if (due.rows.reduce((n, v) => n + v.due, 0) === limit) {
      for (const { vault } of due.rows.slice(0, WHOLE_VAULTS_PER_CLAIM)) {
        if (locked.length >= limit) break
        await lock(LOCK_IN_VAULT, vault)
      }
    }
    if (locked.length < limit) await lock(LOCK_ANY)
    if (locked.length === 0) return []
    const { rows } = await db.query<ClaimRow & { next_attempt_at: number }>(
      `WITH pick AS (
         SELECT DISTINCT ON (s.vault, s.name) s.id FROM secrets s
         WHERE (s.vault, s.name) IN (SELECT * FROM unnest($3::text[], $4::text[])) AND ${CLAIMABLE}
           AND NOT EXISTS (SELECT 1 FROM secrets n WHERE n.vault = s.vault AND n.name = s.name
             AND n.status = 'queued' AND (n.event_time > s.event_time OR (n.event_time = s.event_time AND n.id > s.id)))
         ORDER BY s.vault, s.name, s.event_time DESC, s.id DESC
       )
       UPDATE secrets s SET lease_owner = $2, lease_until = $5
       FROM pick, events e WHERE s.id = pick.id AND e.id = s.event
       RETURNING s.id, e.source, e.event_id, s.vault, s.name, s.description, s.sealed, s.ref, s.attempts,
         s.event_time, s.created_at, s.solo::int AS solo, s.next_attempt_at`,
      [now, owner, locked.map((r) => r.vault), locked.map((r) => r.name), now + leaseMs],
    )
    rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id)
    return rows.slice(0, limit).map(toClaimed)
  })
}

/**
 * Records outcomes of secrets `owner` still leases, in one statement (relay_settle, postgres-schema.ts):
 * the names locked first (the order every writer keeps), then each secret's lease given back in the
 * same row update as its outcome. Outcomes for secrets whose lease another worker has taken since are
 * ignored.
 */
async function settle(pool: pg.Pool, owner: string, now: number, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return
  const field = <T>(pick: (o: Outcome) => T | undefined) => outcomes.map((o) => pick(o) ?? null)
  await statement(
    pool,
    { name: 'relay_settle', text: 'SELECT relay_settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)' },
    [
      owner,
      now,
      field((o) => o.id),
      field((o) => o.kind),
      field((o) => (o.kind === 'delivered' ? o.version : null)),
      field((o) => (o.kind === 'delivered' ? o.fingerprint : null)),
      field((o) => (o.kind === 'retry' ? o.at : null)),
      field((o) => (o.kind === 'delivered' ? null : o.error)),
      field((o) => (o.kind === 'retry' ? (o.countAttempt ? 1 : 0) : null)),
      field((o) => (o.kind === 'retry' ? o.solo : null)),
    ],
  )
}

/** Gives back every lease `owner` holds (graceful shutdown), names locked first like every writer. */
async function release(pool: pg.Pool, owner: string): Promise<void> {
  await transaction(pool, async (db) => {
    const held = await db.query<NameKey>('SELECT vault, name FROM secrets WHERE lease_owner = $1', [owner])
    if (held.rows.length === 0) return
    await lockNames(db, held.rows)
    await db.query('UPDATE secrets SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1', [
      owner,
    ])
  })
}

/**
 * The earliest a queued secret can be claimed: when it is due, its own lease ends, and no other
 * secret of its name is still being sent.
 */
async function nextDueAt(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ due: number | null }>(
    `SELECT MIN(GREATEST(s.next_attempt_at, COALESCE(s.lease_until, 0),
       COALESCE((SELECT MAX(o.lease_until) FROM secrets o WHERE o.vault = s.vault AND o.name = s.name
         AND o.id <> s.id AND o.lease_owner IS NOT NULL), 0))) AS due
     FROM secrets s WHERE s.status = 'queued'`,
  )
  return rows[0]?.due ?? null
}

/** The delivery half of a Store, in PostgreSQL; each call is one transaction. */
export interface PostgresLeases {
  claim(options: ClaimOptions): Promise<Claimed[]>
  settle(owner: string, now: number, outcomes: Outcome[]): Promise<void>
  release(owner: string): Promise<void>
  nextDueAt(): Promise<number | null>
}

export function createPostgresLeases(pool: pg.Pool): PostgresLeases {
  return {
    claim: (options) => (options.limit > 0 ? claim(pool, options) : Promise.resolve([])),
    settle: (owner, now, outcomes) => settle(pool, owner, now, outcomes),
    release: (owner) => release(pool, owner),
    nextDueAt: () => nextDueAt(pool),
  }
}
