// One vault and name at a time across replicas: the `names` row lock every writer of a name takes first,
// and the never-regress rules it guards (where an arriving or re-queued secret goes, what it supersedes).
import type { Queryable } from './postgres-pool.js'
import { OLDER_THAN_DELIVERED, SUPERSEDED_BY_NEWER } from './sqlite-rows.js'

/** A vault and secret name. */
export interface NameKey {
  vault: string
  name: string
}

/** Whether a secret may wait for delivery, or why it is superseded on the spot. */
export type Placement = { status: 'queued' } | { status: 'superseded'; error: string }

/** The distinct names of `keys`, sorted by bytes (the tables' "C" collation sorts them the same way). */
export function sortedNames(keys: readonly NameKey[]): NameKey[] {
  const byKey = new Map(keys.map((k) => [`${k.vault}\u0000${k.name}`, { vault: k.vault, name: k.name }]))
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, k]) => k)
}

/**
 * Locks the `names` rows of `keys` until the transaction ends, waiting for other holders. With `create`,
 * missing rows are made first (a name seen for the first time). Rows are made and locked in one order
 * (sorted by bytes) by every process, so two writers of overlapping names never deadlock.
 *
 * Every change to a name's secrets (enqueue, settle, release, retry, discard) holds its row, and claim
 * leases only under it, so each decision about a name sees the last committed state of that name.
 */
export async function lockNames(
  db: Queryable,
  keys: readonly NameKey[],
  create?: { now: number },
): Promise<void> {
  const sorted = sortedNames(keys)
  if (sorted.length === 0) return
  const vaults = sorted.map((k) => k.vault)
  const names = sorted.map((k) => k.name)
  if (create) {
    await db.query(
      `INSERT INTO names (vault, name, updated_at)
       SELECT v, n, $3::bigint FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(v, n, i) ORDER BY i
       ON CONFLICT (vault, name) DO NOTHING`,
      [vaults, names, create.now],
    )
  }
  await db.query(
    `SELECT 1 FROM names WHERE (vault, name) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     ORDER BY vault, name FOR UPDATE`,
    [vaults, names],
  )
}

/** The arrival id of a secret not inserted yet: it arrives after every row already there. */
const NOT_YET_INSERTED = Number.MAX_SAFE_INTEGER

/**
 * Where a secret of `key` at `eventTime` goes, ordering one name's values by (event time, arrival id);
 * `id` is its arrival id if it has one. Call holding the name's lock.
 */
export async function place(
  db: Queryable,
  key: NameKey,
  eventTime: number,
  id = NOT_YET_INSERTED,
): Promise<Placement> {
  const { rows } = await db.query<{ older: boolean; newer: boolean }>(
    `SELECT
       EXISTS (SELECT 1 FROM names WHERE vault = $1 AND name = $2
         AND (delivered_event_time > $3 OR (delivered_event_time = $3 AND delivered_secret_id > $4))) AS older,
       EXISTS (SELECT 1 FROM secrets WHERE vault = $1 AND name = $2 AND status = 'queued'
         AND (event_time > $3 OR (event_time = $3 AND id > $4))) AS newer`,
    [key.vault, key.name, eventTime, id],
  )
  if (rows[0]?.older) return { status: 'superseded', error: OLDER_THAN_DELIVERED }
  if (rows[0]?.newer) return { status: 'superseded', error: SUPERSEDED_BY_NEWER }
  return { status: 'queued' }
}

/**
 * Supersedes and erases every other queued value of the name (call once `id` is queued, holding the
 * name's lock). The lease stays: a worker may be sending the old value right now, and while its lease
 * lives the newer value cannot be claimed, so the newest is always the last one written.
 */
export async function supersedeOthers(db: Queryable, key: NameKey, id: number, now: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE secrets SET status = 'superseded', sealed = NULL, next_attempt_at = NULL, last_error = $1,
       updated_at = $2
     WHERE vault = $3 AND name = $4 AND status = 'queued' AND id <> $5`,
    [SUPERSEDED_BY_NEWER, now, key.vault, key.name, id],
  )
  return rowCount ?? 0
}
