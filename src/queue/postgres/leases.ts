// The worker side of the PostgreSQL queue: leasing due secrets (one per name across every replica),
// renewing and marking leases, recording outcomes and the never-regress watermark, giving leases back.
import type pg from 'pg'
import { type ClaimRow, toClaimed } from '../rows.js'
import {
  type Attempt,
  type Claimed,
  type ClaimOptions,
  FENCE_OWNER,
  type Outcome,
  type RenewOptions,
} from '../store.js'
import { statement, transaction } from './pool.js'

/** Most vaults one claim locks one by one (a statement each) before it takes the rest in due order. */
const WHOLE_VAULTS_PER_CLAIM = 16

/**
 * Leases up to `limit` due secrets to `owner`, in one statement (relay_claim, migrations 6 and 8), its
 * own transaction. A name's lease is on its `names` row (which secret, whose, until when), so there is
 * one lease per vault and name at most, and leasing rewrites that small row, not the secret's.
 *
 * 1. Lock the `names` rows of names that look claimable (due, no live lease), `FOR UPDATE SKIP LOCKED`:
 *    a name another replica is claiming, or an enqueue, settle or admin change is writing, is skipped (it
 *    is claimed on a later round) instead of waited for, so claimers never queue behind each other and
 *    never take part in a deadlock. Each look uses a snapshot taken before its locks.
 *
 *    A request carries one vault. When more is due than one claim takes, the claim locks whole vaults,
 *    the longest-waiting first, as the SQLite store does: a backlog spread over many vaults then goes
 *    out in full requests instead of a few secrets of every vault each. What the vaults do not fill
 *    (names held back by a value in flight, or locked by another replica), and everything when it all
 *    fits, is locked in due order, whatever the vault.
 * 2. Lease, with a fresh snapshot (READ COMMITTED takes one per statement, after the locks are held),
 *    the newest queued secret of each locked name if the name is still claimable. Every writer of a name
 *    holds its row lock (see lockNames), so nothing about these names can change between the check
 *    and the lease: the check sees every committed lease, and a value superseded meanwhile is not leased.
 *
 * An expired lease counts as none, which is how a replica that died mid-delivery has its work taken over:
 * at once for the secrets it had not started sending. A locked name whose expired lease is marked
 * sending (see renew) is not leased but fenced for `uncertainWriteMs`, its next write read back: that
 * replica's request may still land.
 */
async function claim(pool: pg.Pool, options: ClaimOptions, uncertainWriteMs: number): Promise<Claimed[]> {
  const { rows } = await statement<ClaimRow>(pool, CLAIM, claimValues(options, uncertainWriteMs))
  return rows.map(toClaimed)
}

/**
 * The claim statement; prepared once per connection (warm-up.ts runs it on each at open). `unconfirmed`
 * is read in the same statement, per claimed row through migration 7's partial index (marked names are
 * few): the claim never changes that column, so the statement's snapshot sees its current value.
 */
export const CLAIM = {
  name: 'relay_claim',
  text: `SELECT c.id, c.source, c.event_id, c.vault, c.name, c.description, c.sealed, c.ref, c.attempts,
           c.event_time, c.created_at, c.solo,
           (SELECT COUNT(*) FROM names n WHERE n.vault = c.vault AND n.name = c.name
             AND n.unconfirmed_since IS NOT NULL)::int AS unconfirmed
         FROM relay_claim($1, $2, $3, $4, $5, $6) c`,
}

export function claimValues(
  { owner, now, leaseMs, limit }: ClaimOptions,
  uncertainWriteMs: number,
): unknown[] {
  return [owner, now, now + leaseMs, limit, WHOLE_VAULTS_PER_CLAIM, uncertainWriteMs]
}

/**
 * Extends `owner`'s leases of `items` (the worker's heartbeat) and, with `sending`, marks them as being
 * sent, in one statement: the names still leased to `owner` for that secret locked in the order every
 * writer keeps, then rewritten by primary key (a HOT update: neither column is indexed). A lease that ran
 * out but that nobody took is `owner`'s again (no other write of its name can have started); one taken
 * or fenced since is left alone and its id not returned.
 */
async function renew(pool: pg.Pool, options: RenewOptions): Promise<Set<number>> {
  if (options.items.length === 0) return new Set()
  const { rows } = await statement<{ id: string }>(pool, RENEW, [
    options.owner,
    options.now,
    options.now + options.leaseMs,
    options.items.map((i) => i.vault),
    options.items.map((i) => i.name),
    options.items.map((i) => i.id),
    options.sending === true,
  ])
  return new Set(rows.map((r) => Number(r.id)))
}

/** The renew statement; prepared once per connection. */
export const RENEW = {
  name: 'relay_renew',
  text: `WITH held AS (
      SELECT n.vault, n.name FROM unnest($4::text[], $5::text[], $6::bigint[]) AS k(vault, name, id)
        JOIN names n ON n.vault = k.vault AND n.name = k.name
      WHERE n.lease_secret = k.id AND n.lease_owner = $1
      ORDER BY n.vault, n.name FOR UPDATE OF n
    )
    UPDATE names n SET lease_until = GREATEST(n.lease_until, $3),
      sending_since = CASE WHEN $7 THEN COALESCE(n.sending_since, $2) ELSE n.sending_since END
    FROM held WHERE n.vault = held.vault AND n.name = held.name AND n.lease_owner = $1
    RETURNING n.lease_secret AS id`,
}

/**
 * Records outcomes of secrets `owner` still leases, and the round's attempts (provenance), in one
 * statement and transaction (relay_settle, migration 6): the names whose lease is still
 * `owner`'s for that secret locked first (the order every writer keeps), then each secret's row rewritten
 * with its outcome and each name's row with its lease given back (and the watermark). Outcomes for
 * secrets whose lease another worker has taken since are ignored; attempts are recorded for any secret
 * still there.
 */
async function settle(
  pool: pg.Pool,
  owner: string,
  now: number,
  outcomes: Outcome[],
  attempts: Attempt[],
): Promise<void> {
  if (outcomes.length === 0 && attempts.length === 0) return
  const fenced = outcomes.filter(
    (o): o is Outcome & { fenceUntil: number } =>
      (o.kind === 'retry' || o.kind === 'dead') && o.fenceUntil !== undefined,
  )
  const confirmed = outcomes.filter((o) => o.kind === 'delivered' && o.confirmed === true).map((o) => o.id)
  const kept = outcomes.filter(
    (o): o is Outcome & { kind: 'dead'; keepValueUntil: number } =>
      o.kind === 'dead' && o.keepValueUntil !== undefined,
  )
  if (fenced.length === 0 && confirmed.length === 0 && kept.length === 0) {
    await statement(pool, SETTLE, settleValues(owner, now, outcomes, attempts))
    return
  }
  // Rare (an unknown outcome, or the write after one): the fence goes on in the settle's transaction, so
  // no other replica can lease the name between the lease given back and the fence.
  await transaction(pool, async (db) => {
    // Before the settle erases them: the values of dead secrets kept for an admin retry.
    if (kept.length > 0)
      await db.query(KEEP, [owner, kept.map((o) => o.id), kept.map((o) => o.keepValueUntil)])
    await db.query(SETTLE.text, settleValues(owner, now, outcomes, attempts))
    if (fenced.length > 0)
      await db.query(FENCE, [FENCE_OWNER, now, fenced.map((o) => o.id), fenced.map((o) => o.fenceUntil)])
    if (confirmed.length > 0) await db.query(CONFIRM, [FENCE_OWNER, now, confirmed])
  })
}

/**
 * Holds each name's lease under FENCE_OWNER until its write can no longer land (the longer of two fences
 * wins) and marks it unconfirmed. A name leased by another worker meanwhile is left alone.
 */
const FENCE = `UPDATE names n SET lease_secret = f.id, lease_owner = $1,
    lease_until = GREATEST(f.until, CASE WHEN n.lease_owner = $1 THEN n.lease_until ELSE 0 END),
    unconfirmed_since = COALESCE(n.unconfirmed_since, $2)
  FROM unnest($3::bigint[], $4::bigint[]) AS f(id, until) JOIN secrets s ON s.id = f.id
  WHERE n.vault = s.vault AND n.name = s.name AND (n.lease_owner IS NULL OR n.lease_owner = $1)`

/** Copies the sealed values of secrets `owner` still leases into dead_values, kept until each one's time. */
const KEEP = `INSERT INTO dead_values (secret, sealed, until)
  SELECT s.id, s.sealed, k.until FROM unnest($2::bigint[], $3::bigint[]) AS k(id, until)
  JOIN secrets s ON s.id = k.id
  JOIN names n ON n.vault = s.vault AND n.name = s.name AND n.lease_secret = s.id AND n.lease_owner = $1
  WHERE s.status = 'queued' AND s.sealed IS NOT NULL
  ON CONFLICT (secret) DO UPDATE SET sealed = excluded.sealed, until = excluded.until`

/** A confirmed write lifts its name's mark, unless a newer unknown outcome has fenced the name since. */
const CONFIRM = `UPDATE names n SET unconfirmed_since = NULL
  FROM secrets s WHERE s.id = ANY($3::bigint[]) AND n.vault = s.vault AND n.name = s.name
    AND n.unconfirmed_since IS NOT NULL AND (n.lease_owner IS DISTINCT FROM $1 OR n.lease_until <= $2)`

/** The settle statement; prepared once per connection, as CLAIM. */
export const SETTLE = {
  name: 'relay_settle',
  text: 'SELECT relay_settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)',
}

export function settleValues(
  owner: string,
  now: number,
  outcomes: Outcome[],
  attempts: Attempt[],
): unknown[] {
  const field = <T>(pick: (o: Outcome) => T | undefined) => outcomes.map((o) => pick(o) ?? null)
  return [
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
    attempts.map((a) => a.secretId),
    attempts.map((a) => a.at),
    attempts.map((a) => a.outcome),
    attempts.map((a) => a.status),
    attempts.map((a) => a.version),
    attempts.map((a) => a.error),
  ]
}

/**
 * Gives back every lease `owner` holds (graceful shutdown), in one statement: the names locked in the
 * order every writer keeps, then cleared. (A scan of `names`: the lease columns have no index, so that
 * leasing stays a HOT update; this runs once per shutdown.)
 */
async function release(pool: pg.Pool, owner: string): Promise<void> {
  await pool.query(
    `WITH held AS (
       SELECT vault, name FROM names WHERE lease_owner = $1 ORDER BY vault, name FOR UPDATE
     )
     UPDATE names n SET lease_secret = NULL, lease_owner = NULL, lease_until = NULL
     FROM held WHERE n.vault = held.vault AND n.name = held.name AND n.lease_owner = $1`,
    [owner],
  )
}

/**
 * The earliest a queued secret can be claimed: when it is due and its name's lease (its own, or another
 * value of its name still being sent) has ended.
 */
async function nextDueAt(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ due: number | null }>(
    `SELECT MIN(GREATEST(s.next_attempt_at, COALESCE(n.lease_until, 0))) AS due
     FROM secrets s JOIN names n ON n.vault = s.vault AND n.name = s.name WHERE s.status = 'queued'`,
  )
  return rows[0]?.due ?? null
}

/** The delivery half of a Store, in PostgreSQL; each call is one transaction. */
export interface PostgresLeases {
  claim(options: ClaimOptions): Promise<Claimed[]>
  renew(options: RenewOptions): Promise<Set<number>>
  settle(owner: string, now: number, outcomes: Outcome[], attempts: Attempt[]): Promise<void>
  release(owner: string): Promise<void>
  nextDueAt(): Promise<number | null>
}

/** `uncertainWriteMs`: how long a write may still land (`delivery.uncertainWriteSeconds`). */
export function createPostgresLeases(pool: pg.Pool, uncertainWriteMs: number): PostgresLeases {
  return {
    claim: (options) => (options.limit > 0 ? claim(pool, options, uncertainWriteMs) : Promise.resolve([])),
    renew: (options) => renew(pool, options),
    settle: (owner, now, outcomes, attempts) => settle(pool, owner, now, outcomes, attempts),
    release: (owner) => release(pool, owner),
    nextDueAt: () => nextDueAt(pool),
  }
}
