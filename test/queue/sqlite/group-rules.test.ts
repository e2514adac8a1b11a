// SQLite group commit: a group of events in one transaction leaves the very rows that recording them one
// at a time leaves, and answers each caller the same (the never-regress rules within and across groups).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteStore, type SqliteStore } from '../../../src/queue/sqlite/store.js'
import type { EnqueueResult, NewEvent } from '../../../src/queue/store.js'
import { claim, newEvent, sealed, T0 } from '../contract/helpers.js'

const dirs: string[] = []
const stores: SqliteStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A store on a fresh file, with what came before the group: a queued value and a delivered one. */
async function prepared(): Promise<{ store: SqliteStore; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-group-rules-'))
  dirs.push(dir)
  const path = join(dir, 'relay.db')
  const store = createSqliteStore({ path })
  stores.push(store)
  await store.enqueue(newEvent(T0 + 300, [sealed('v', 'P', 'p-delivered')], { eventId: 'pre-p' }))
  const [p] = await claim(store, T0)
  await store.settle('w1', T0 + 1, [{ id: p!.id, kind: 'delivered', version: 1 }])
  await store.enqueue(
    newEvent(T0 + 50, [sealed('v', 'N', 'n-stored')], { eventId: 'pre-n', receivedAt: T0 + 2 }),
  )
  return { store, path }
}

/** Every column of every row the enqueues wrote (events, secrets, provenance), in id order. */
function rows(path: string): unknown {
  const db = new Database(path, { readonly: true })
  try {
    return {
      events: db.prepare('SELECT * FROM events ORDER BY id').all(),
      secrets: db.prepare('SELECT * FROM secrets ORDER BY id').all(),
      provenance: db.prepare('SELECT * FROM event_provenance ORDER BY source, event_id').all(),
    }
  } finally {
    db.close()
  }
}

/** The group: every never-regress case within one group and against what was stored before it. */
function group(): NewEvent[] {
  const at = (n: number) => ({ receivedAt: T0 + 10 + n })
  const traced = (e: NewEvent): NewEvent => ({
    ...e,
    provenance: { verifier: 'hmac', keyId: 'secrets[0]', rules: e.secrets.map((_, i) => `rules[${i}]`) },
  })
  return [
    // N: newer than the stored value (supersedes it), then newer again within the group, then older
    traced(newEvent(T0 + 100, [sealed('v', 'N', 'n-100')], { eventId: 'a', ...at(1) })),
    newEvent(T0 + 200, [sealed('v', 'N', 'n-200'), sealed('w', 'N', 'other vault')], {
      eventId: 'b',
      ...at(2),
    }),
    traced(newEvent(T0 + 150, [sealed('v', 'N', 'n-150')], { eventId: 'c', ...at(3) })),
    // M twice in one event: the later one wins; then an equal event time arriving later wins again
    newEvent(T0 + 100, [sealed('v', 'M', 'm-1'), sealed('v', 'M', 'm-2')], { eventId: 'd', ...at(4) }),
    newEvent(T0 + 100, [sealed('v', 'M', 'm-3')], { eventId: 'e', ...at(5) }),
    // P: older than the delivered value, then as old as it (the later arrival is newer)
    newEvent(T0 + 250, [sealed('v', 'P', 'p-250')], { eventId: 'f', ...at(6) }),
    newEvent(T0 + 300, [sealed('v', 'P', 'p-300')], { eventId: 'g', ...at(7) }),
    // duplicates: of an event stored before, and of one earlier in the group
    newEvent(T0 + 900, [sealed('v', 'N', 'never')], { eventId: 'pre-n', ...at(8) }),
    newEvent(T0 + 900, [sealed('v', 'M', 'never')], { eventId: 'd', ...at(9) }),
    traced(newEvent(T0, [], { eventId: 'h', ...at(10) })),
  ]
}

describe('sqlite group commit and the never-regress rules', () => {
  it('writes a group as recording its events one at a time would, row for row', async () => {
    // the same sealed values for both (sealing twice would differ in the nonce)
    const events = group()
    const one = await prepared()
    const sequential: EnqueueResult[] = []
    for (const e of events) sequential.push(await one.store.enqueue(e))

    const all = await prepared()
    const before = all.store.stats().enqueueTransactions
    const together = await Promise.all(events.map((e) => all.store.enqueue(e)))
    expect(all.store.stats().enqueueTransactions - before).toBe(1)

    expect(together).toEqual(sequential)
    expect(together.map((r) => (r.duplicate ? 'dup' : `${r.queued}q${r.superseded}s`))).toEqual([
      '1q0s',
      '2q0s',
      '0q1s',
      '2q0s',
      '1q0s',
      '0q1s',
      '1q0s',
      'dup',
      'dup',
      '0q0s',
    ])
    const written = rows(all.path)
    expect(written).toEqual(rows(one.path))
    // what waits: one value per name, the newest; nothing superseded keeps a value
    const secrets = (
      written as { secrets: { name: string; vault: string; status: string; sealed: unknown }[] }
    ).secrets
    const waiting = secrets.filter((s) => s.status === 'queued').map((s) => `${s.vault}/${s.name}`)
    expect(waiting.sort()).toEqual(['v/M', 'v/N', 'v/P', 'w/N'])
    expect(secrets.filter((s) => s.status !== 'queued').every((s) => s.sealed === null)).toBe(true)
  })

  it('writes a large group, superseding within it', async () => {
    const { store, path } = await prepared()
    const events = Array.from({ length: 150 }, (_, i) =>
      newEvent(T0 + i, [sealed('v', `K${i % 70}`, `x${i}`), sealed('w', `K${i}`, `y${i}`)], {
        eventId: `big-${i}`,
      }),
    )
    const results = await Promise.all(events.map((e) => store.enqueue(e)))
    expect(results.every((r) => !r.duplicate && r.queued === 2)).toBe(true)
    const secrets = (rows(path) as { secrets: { vault: string; status: string }[] }).secrets
    // 70 names of v, each with its newest value waiting, and N from before (P was delivered); 150 of w
    expect(secrets.filter((s) => s.status === 'queued' && s.vault === 'v')).toHaveLength(71)
    expect(secrets.filter((s) => s.status === 'queued' && s.vault === 'w')).toHaveLength(150)
  })
})
