// Taking over a dead replica's leases (migration 8): a name it had claimed but not started sending goes
// at once; a name it was sending is fenced for uncertainWriteMs (its request may still land), then read
// back; a claimer of the previous version leaves such a name alone.
import { describe, expect, it } from 'vitest'
import { FENCE_OWNER, type Store } from '../../../src/queue/store.js'
import { adminQuery } from '../../support/postgres.js'
import { claim, LEASE_MS, newEvent, opened, recordOf, sealed, T0 } from '../contract/helpers.js'
import { storesOnFreshDatabases } from './fixtures.js'

const fixtures = storesOnFreshDatabases()
const UNCERTAIN_MS = 5_000

async function twoNamesClaimedOneSent(store: Store) {
  const event = newEvent(T0, [sealed('v', 'SENT', 'one'), sealed('v', 'UNSENT', 'two')])
  await store.enqueue(event)
  const claimed = await claim(store, T0, 'dead')
  const sent = claimed.find((c) => c.name === 'SENT')!
  const unsent = claimed.find((c) => c.name === 'UNSENT')!
  // the dead replica marked SENT just before its request went out, at T0 + 10 (which renewed it)
  const marked = await store.renew({
    owner: 'dead',
    now: T0 + 10,
    leaseMs: LEASE_MS,
    items: [sent],
    sending: true,
  })
  expect(marked).toEqual(new Set([sent.id]))
  return { event, sent, unsent }
}

describe('taking over the leases of a replica that died', () => {
  it('claims an unsent name at once and fences a name being sent, then sends it read back', async () => {
    const db = await fixtures.freshDb()
    const store = await fixtures.open(db.url, { uncertainWriteMs: UNCERTAIN_MS })
    const { sent, unsent } = await twoNamesClaimedOneSent(store)
    const expired = T0 + 10 + LEASE_MS
    // before the leases end: nothing
    expect(await claim(store, T0 + LEASE_MS - 1, 'w2')).toEqual([])
    // the unsent name goes as soon as its lease has ended, unmarked; the sent one's lease still lives
    const taken = await claim(store, T0 + LEASE_MS, 'w2')
    expect(taken.map((c) => [c.id, c.unconfirmed])).toEqual([[unsent.id, false]])
    expect(await claim(store, expired - 1, 'w2')).toEqual([])
    expect(await claim(store, expired, 'w2')).toEqual([])
    // the sent one is fenced from the takeover, as a write of unknown outcome is
    expect(await store.getName('v', 'SENT', expired)).toMatchObject({
      inFlight: false,
      fencedUntil: expired + UNCERTAIN_MS,
      unconfirmed: true,
      unconfirmedSince: expired,
    })
    const { rows } = await adminQuery<{ owner: string }>(
      db.url,
      "SELECT lease_owner AS owner FROM names WHERE name = 'SENT'",
    )
    expect(rows[0]?.owner).toBe(FENCE_OWNER)
    expect(await claim(store, expired + UNCERTAIN_MS - 1, 'w2')).toEqual([])
    expect(await store.nextDueAt()).toBe(expired + UNCERTAIN_MS)
    const [again] = await claim(store, expired + UNCERTAIN_MS, 'w2')
    expect(again && [again.id, opened(again), again.unconfirmed]).toEqual([sent.id, 'one', true])
    // the dead replica's late outcome counts for nothing
    await store.settle('dead', expired + UNCERTAIN_MS + 1, [{ id: sent.id, kind: 'dead', error: 'late' }])
    expect((await store.getName('v', 'SENT', expired + UNCERTAIN_MS + 1))?.inFlight).toBe(true)
  })

  it('clears the mark with each claim: the next owner’s unsent lease is taken over at once', async () => {
    const db = await fixtures.freshDb()
    const store = await fixtures.open(db.url, { uncertainWriteMs: UNCERTAIN_MS })
    const { sent } = await twoNamesClaimedOneSent(store)
    // the request failed (nothing went out): the lease is given back, due at once
    await store.settle('dead', T0 + 20, [
      { id: sent.id, kind: 'retry', at: T0 + 20, error: 'refused', countAttempt: false },
    ])
    const [again] = await claim(store, T0 + 20, 'w2')
    expect(again?.id).toBe(sent.id)
    // w2 dies before sending: w3 takes the name as soon as w2's lease ends, no fence
    const taken = await claim(store, T0 + 20 + LEASE_MS, 'w3')
    expect(taken.find((c) => c.id === sent.id)).toMatchObject({ unconfirmed: false })
  })

  it('leaves a live lease being sent alone', async () => {
    const db = await fixtures.freshDb()
    const store = await fixtures.open(db.url, { uncertainWriteMs: UNCERTAIN_MS })
    const { event } = await twoNamesClaimedOneSent(store)
    expect(await claim(store, T0 + LEASE_MS, 'w2')).toHaveLength(1)
    expect(await store.getName('v', 'SENT', T0 + LEASE_MS)).toMatchObject({
      inFlight: true,
      fencedUntil: null,
    })
    await store.settle('dead', T0 + LEASE_MS + 1, [
      { id: (await recordOf(store, event)).id, kind: 'delivered', version: 1 },
    ])
    expect(await recordOf(store, event)).toMatchObject({ name: 'SENT', status: 'delivered' })
  })

  it('a claim of the previous version (no uncertain-write time) takes unsent names and leaves a sent one', async () => {
    const db = await fixtures.freshDb()
    const store = await fixtures.open(db.url, { uncertainWriteMs: UNCERTAIN_MS })
    const { sent, unsent } = await twoNamesClaimedOneSent(store)
    const expired = T0 + 10 + LEASE_MS
    const old = await adminQuery<{ id: string }>(db.url, 'SELECT id FROM relay_claim($1, $2, $3, $4, $5)', [
      'old',
      expired,
      expired + LEASE_MS,
      10,
      16,
    ])
    expect(old.rows.map((r) => Number(r.id))).toEqual([unsent.id])
    expect(await store.getName('v', 'SENT', expired)).toMatchObject({ inFlight: false, fencedUntil: null })
    // a claimer of this version then fences it
    expect(await claim(store, expired, 'w2')).toEqual([])
    expect((await store.getName('v', 'SENT', expired))?.fencedUntil).toBe(expired + UNCERTAIN_MS)
    expect((await claim(store, expired + UNCERTAIN_MS, 'w2')).map((c) => c.id)).toEqual([sent.id])
  })
})
