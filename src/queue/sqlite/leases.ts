// The worker side of the SQLite queue: leasing due secrets (one per name at a time), renewing leases,
// recording outcomes and the never-regress watermark, giving leases back.
import type Database from 'better-sqlite3'
import { type ClaimRow, toClaimed } from '../rows.js'
import type { Claimed, ClaimOptions, Outcome, RenewOptions } from '../store.js'

/** The delivery half of a Store, in SQLite; each call is one transaction. */
export interface SqliteLeases {
  claim(options: ClaimOptions): Claimed[]
  /** The ids whose lease `owner` still holds, extended (no sending mark: see RenewOptions.sending). */
  renew(options: RenewOptions): Set<number>
  /** Returns how many values the outcomes erased (delivered, dead or superseded while queued). */
  settle(owner: string, now: number, outcomes: Outcome[]): number
  release(owner: string): void
  nextDueAt(): number | null
}

export function createSqliteLeases(db: Database.Database): SqliteLeases {
  // Due, not under a live lease, no other value of its name in flight, and the newest queued of its name.
  // A fenced name (an earlier write's outcome unknown) waits until that write can no longer land.
  const claimableWhere = `s.status = 'queued' AND s.next_attempt_at <= @now
       AND (s.lease_until IS NULL OR s.lease_until <= @now)
       AND NOT EXISTS (SELECT 1 FROM fences f WHERE f.vault = s.vault AND f.name = s.name AND f.until > @now)
       AND NOT EXISTS (SELECT 1 FROM secrets o WHERE o.vault = s.vault AND o.name = s.name AND o.id <> s.id
         AND o.lease_owner IS NOT NULL AND o.lease_until > @now)
       AND NOT EXISTS (SELECT 1 FROM secrets n WHERE n.vault = s.vault AND n.name = s.name
         AND n.status = 'queued' AND (n.event_time > s.event_time OR (n.event_time = s.event_time AND n.id > s.id)))`
  const claimColumns = `s.id, e.source, e.event_id, s.vault, s.name, s.description, s.sealed, s.ref, s.attempts,
       s.event_time, s.created_at, s.solo,
       EXISTS (SELECT 1 FROM fences f WHERE f.vault = s.vault AND f.name = s.name) AS unconfirmed`
  const claimable = db.prepare<{ now: number; limit: number }, ClaimRow>(
    `SELECT ${claimColumns} FROM secrets s JOIN events e ON e.id = s.event
     WHERE ${claimableWhere} ORDER BY s.next_attempt_at, s.id LIMIT @limit`,
  )
  const claimableInVault = db.prepare<{ now: number; limit: number; vault: string }, ClaimRow>(
    `SELECT ${claimColumns} FROM secrets s INDEXED BY secrets_vault_due JOIN events e ON e.id = s.event
     WHERE s.vault = @vault AND ${claimableWhere} ORDER BY s.next_attempt_at, s.id LIMIT @limit`,
  )
  // The vaults of the oldest due secrets, in the order their oldest one has waited.
  const dueVaults = db
    .prepare<{ now: number; limit: number }, string>(
      `SELECT vault FROM secrets INDEXED BY secrets_due WHERE status = 'queued' AND next_attempt_at <= @now
       ORDER BY next_attempt_at, id LIMIT @limit`,
    )
    .pluck()
  const lease = db.prepare<[string, number, number]>(
    'UPDATE secrets SET lease_owner = ?, lease_until = ? WHERE id = ?',
  )
  const leased = db.prepare<
    [number, string],
    { vault: string; name: string; event_time: number; has_value: number }
  >(
    `SELECT vault, name, event_time, sealed IS NOT NULL AS has_value FROM secrets
     WHERE id = ? AND lease_owner = ?`,
  )
  const unlease = db.prepare<[number, number]>(
    'UPDATE secrets SET lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?',
  )
  // Delivered while superseded (the in-flight case) stays superseded, but RWX did get it: record that.
  // Gives the lease back in the same write (one row update instead of two: most outcomes are this one).
  const delivered = db.prepare<{
    id: number
    now: number
    version: number | null
    fingerprint: string | null
  }>(
    `UPDATE secrets SET status = CASE status WHEN 'queued' THEN 'delivered' ELSE status END, sealed = NULL,
       next_attempt_at = NULL, attempts = attempts + 1, delivered_at = @now, rwx_version = @version,
       fingerprint = COALESCE(@fingerprint, fingerprint), updated_at = @now, lease_owner = NULL, lease_until = NULL
     WHERE id = @id`,
  )
  const watermark = db.prepare<{
    vault: string
    name: string
    eventTime: number
    id: number
    version: number | null
    now: number
  }>(
    `INSERT INTO names (vault, name, delivered_event_time, delivered_secret_id, rwx_version, updated_at)
     VALUES (@vault, @name, @eventTime, @id, @version, @now)
     ON CONFLICT (vault, name) DO UPDATE SET delivered_event_time = excluded.delivered_event_time,
       delivered_secret_id = excluded.delivered_secret_id, rwx_version = excluded.rwx_version,
       updated_at = excluded.updated_at
     WHERE excluded.delivered_event_time > names.delivered_event_time
       OR (excluded.delivered_event_time = names.delivered_event_time
         AND excluded.delivered_secret_id > names.delivered_secret_id)`,
  )
  const retry = db.prepare<{
    id: number
    now: number
    at: number
    error: string
    count: number
    solo: number | null
  }>(
    `UPDATE secrets SET attempts = attempts + @count, next_attempt_at = @at, last_error = @error,
       solo = COALESCE(@solo, solo), updated_at = @now
     WHERE id = @id AND status = 'queued'`,
  )
  const finish = db.prepare<[string, string, number, number]>(
    `UPDATE secrets SET status = ?, sealed = NULL, next_attempt_at = NULL, last_error = ?, updated_at = ?
     WHERE id = ? AND status = 'queued'`,
  )
  // Holds the name until `until` (the longer of two fences wins), and marks it unconfirmed.
  const fence = db.prepare<{ vault: string; name: string; until: number; now: number }>(
    `INSERT INTO fences (vault, name, until, since) VALUES (@vault, @name, @until, @now)
     ON CONFLICT (vault, name) DO UPDATE SET until = MAX(until, excluded.until)`,
  )
  // A confirmed write lifts the fence, unless a newer unknown outcome has fenced the name again since.
  const confirm = db.prepare<{ vault: string; name: string; now: number }>(
    'DELETE FROM fences WHERE vault = @vault AND name = @name AND until <= @now',
  )
  // An expired lease is taken back only while no other value of its name is leased (the lease is per
  // secret here: another worker may have leased a newer value of the name since).
  const extend = db.prepare<{ id: number; owner: string; now: number; until: number }>(
    `UPDATE secrets SET lease_until = MAX(lease_until, @until)
     WHERE id = @id AND lease_owner = @owner AND (lease_until > @now OR NOT EXISTS (
       SELECT 1 FROM secrets o WHERE o.vault = secrets.vault AND o.name = secrets.name AND o.id <> secrets.id
         AND o.lease_owner IS NOT NULL AND o.lease_until > @now))`,
  )
  const renewTx = db.transaction(({ owner, now, leaseMs, items }: RenewOptions) => {
    const held = new Set<number>()
    for (const { id } of items)
      if (extend.run({ id, owner, now, until: now + leaseMs }).changes > 0) held.add(id)
    return held
  })
  // A dead secret's value, kept apart for an admin retry (secrets.sealed is erased with its death).
  const keep = db.prepare<{ id: number; until: number }>(
    `INSERT INTO dead_values (secret, sealed, until) SELECT id, sealed, @until FROM secrets
       WHERE id = @id AND sealed IS NOT NULL
     ON CONFLICT (secret) DO UPDATE SET sealed = excluded.sealed, until = excluded.until`,
  )
  const releaseAll = db.prepare<[string]>(
    'UPDATE secrets SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?',
  )
  // The earliest a queued secret can be claimed: when it is due, its own lease ends, and no other
  // secret of its name is still being sent.
  const nextDue = db
    .prepare<[], number | null>(
      `SELECT MIN(MAX(s.next_attempt_at, COALESCE(s.lease_until, 0),
         COALESCE((SELECT MAX(o.lease_until) FROM secrets o WHERE o.vault = s.vault AND o.name = s.name
           AND o.id <> s.id AND o.lease_owner IS NOT NULL), 0),
         COALESCE((SELECT f.until FROM fences f WHERE f.vault = s.vault AND f.name = s.name), 0)))
       FROM secrets s WHERE s.status = 'queued'`,
    )
    .pluck()

  // A request carries one vault. When more is due than one claim takes, the claim takes whole vaults, the
  // longest-waiting first: a backlog spread over many vaults then goes out in full requests instead of a
  // few secrets of every vault each. When everything due fits, it is taken in due order.
  const claimTx = db.transaction((owner: string, now: number, leaseMs: number, limit: number) => {
    const rows: ClaimRow[] = []
    const taken = new Set<number>()
    const take = (found: ClaimRow[]) => {
      for (const row of found) {
        if (rows.length >= limit || taken.has(row.id)) continue
        lease.run(owner, now + leaseMs, row.id)
        taken.add(row.id)
        rows.push(row)
      }
    }
    const due = dueVaults.all({ now, limit })
    if (due.length === limit) {
      for (const vault of new Set(due)) {
        if (rows.length >= limit) break
        take(claimableInVault.all({ now, vault, limit: limit - rows.length }))
      }
    }
    // Everything due (it fits), or what the vaults above could not fill (taken rows are leased: skipped).
    if (rows.length < limit) take(claimable.all({ now, limit: limit - rows.length }))
    return rows.map(toClaimed)
  })

  const settleTx = db.transaction((owner: string, now: number, outcomes: Outcome[]) => {
    let erased = 0
    for (const o of outcomes) {
      const row = leased.get(o.id, owner)
      if (row === undefined) continue
      if (o.kind !== 'delivered') unlease.run(now, o.id)
      if ((o.kind === 'retry' || o.kind === 'dead') && o.fenceUntil !== undefined)
        fence.run({ vault: row.vault, name: row.name, until: o.fenceUntil, now })
      if (o.kind === 'retry') {
        const solo = o.solo === undefined ? null : o.solo ? 1 : 0
        retry.run({ id: o.id, now, at: o.at, error: o.error, count: o.countAttempt ? 1 : 0, solo })
        continue
      }
      if (o.kind === 'dead' && o.keepValueUntil !== undefined && row.has_value === 1)
        keep.run({ id: o.id, until: o.keepValueUntil })
      if (row.has_value === 1) erased++
      if (o.kind === 'delivered') {
        delivered.run({ id: o.id, now, version: o.version, fingerprint: o.fingerprint ?? null })
        if (o.confirmed) confirm.run({ vault: row.vault, name: row.name, now })
        watermark.run({
          vault: row.vault,
          name: row.name,
          eventTime: row.event_time,
          id: o.id,
          version: o.version,
          now,
        })
      } else {
        finish.run(o.kind, o.error, now, o.id)
      }
    }
    return erased
  })

  return {
    claim({ owner, now, leaseMs, limit }) {
      return limit > 0 ? claimTx.immediate(owner, now, leaseMs, limit) : []
    },
    renew(options) {
      return options.items.length > 0 ? renewTx.immediate(options) : new Set()
    },
    settle(owner, now, outcomes) {
      return outcomes.length > 0 ? settleTx.immediate(owner, now, outcomes) : 0
    },
    release(owner) {
      releaseAll.run(owner)
    },
    nextDueAt() {
      return nextDue.get() ?? null
    },
  }
}
