// One vault and name at a time across replicas: the `names` row lock every writer of a name takes first,
// and the never-regress rules it guards (where an arriving or re-queued secret goes, what it supersedes).
// The rules themselves are database functions (migration 3), shared with relay_enqueue; relay_enqueue_many
// (migration 4) applies the same rules set-wise to a batch (a test holds the two equal).

import { OLDER_THAN_DELIVERED, type Placement, SUPERSEDED_BY_NEWER } from '../rows.js'
import type { Queryable } from './pool.js'

/** A vault and secret name. */
export interface NameKey {
  vault: string
  name: string
}

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
  await db.query('SELECT relay_lock_names($1::text[], $2::text[], $3::bigint)', [
    sorted.map((k) => k.vault),
    sorted.map((k) => k.name),
    create?.now ?? null,
  ])
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
  const { rows } = await db.query<{ error: string | null }>(
    'SELECT relay_place($1, $2, $3, $4, $5, $6) AS error',
    [key.vault, key.name, eventTime, id, OLDER_THAN_DELIVERED, SUPERSEDED_BY_NEWER],
  )
  const error = rows[0]?.error ?? null
  return error === null ? { status: 'queued' } : { status: 'superseded', error }
}

/**
 * Supersedes and erases every other queued value of the name (call once `id` is queued, holding the
 * name's lock). The lease stays: a worker may be sending the old value right now, and while its lease
 * lives the newer value cannot be claimed, so the newest is always the last one written.
 */
export async function supersedeOthers(db: Queryable, key: NameKey, id: number, now: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT relay_supersede_others($1, $2, $3, $4, $5) AS n', [
    key.vault,
    key.name,
    id,
    now,
    SUPERSEDED_BY_NEWER,
  ])
  return rows[0]?.n ?? 0
}
