// A 400 on a batch: RWX stores the valid secrets and names the refused ones; only what it lacks goes again.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const posts = (h: Harness) => h.fake.requests.filter((r) => r.method === 'POST')
const postSizes = (h: Harness) => posts(h).map((r) => (r.body as { secrets: unknown[] }).secrets.length)
const writesOf = (h: Harness, name: string) => h.fake.writes.filter((w) => w.name === name)

describe('delivery worker: partial 400', () => {
  it('a batch of 10 with 1 refused: each valid secret reaches RWX once, the refused one is dead', async () => {
    h = await createHarness({ config: { batchSize: 10 } })
    h.fake.rejectNames((n) => n === 'REFUSED')
    const names = ['S0', 'S1', 'S2', 'S3', 'REFUSED', 'S5', 'S6', 'S7', 'S8', 'S9']
    // values that share no 4 characters with RWX's message, so the message is kept
    const id = await h.enqueue(names.map((name, i) => ({ name, value: `Zx${i}q8Wm` })))
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    const records = await h.secrets(id)
    expect(records.map((s) => [s.name, s.status, s.rwxVersion])).toEqual(
      names.map((n) => (n === 'REFUSED' ? [n, 'dead', null] : [n, 'delivered', 1])),
    )
    for (const n of names) expect(writesOf(h, n)).toHaveLength(n === 'REFUSED' ? 0 : 1)
    // the batch, then the refused one alone to learn RWX's verdict on it
    expect(postSizes(h)).toEqual([10, 1])
    const refused = records.find((s) => s.name === 'REFUSED')!
    expect(refused.lastError).toMatch(/^Some secrets failed validation: REFUSED: name can only include/)
    // each stored one was confirmed by reading its metadata back
    const provenance = await h.store.getProvenance('test', id)
    const s3 = records.find((s) => s.name === 'S3')!
    expect(provenance?.attempts[s3.id]?.map((a) => [a.outcome, a.status, a.version])).toContainEqual([
      'read-back',
      '200',
      1,
    ])
  })

  it('sends again a secret RWX did not name but does not hold', async () => {
    h = await createHarness()
    h.fake.rejectNames((n) => n === 'BAD')
    // RWX leaves B out without naming it (what a read-back must catch)
    let omitted = 0
    h.fake.omitFromSetSecrets((n) => n === 'B' && omitted++ === 0)
    const id = await h.enqueue([
      { name: 'A', value: 'a-value-1' },
      { name: 'B', value: 'b-value-2' },
      { name: 'BAD', value: 'bad-value-3' },
    ])
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    expect((await h.secrets(id)).map((s) => [s.name, s.status])).toEqual([
      ['A', 'delivered'],
      ['B', 'delivered'],
      ['BAD', 'dead'],
    ])
    expect(writesOf(h, 'A')).toHaveLength(1)
    expect(writesOf(h, 'B')).toHaveLength(1)
  })

  it('falls back to one secret a request when the 400 names none of them', async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 400, body: { error: 'validation failed' } })
    const id = await h.enqueue([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'C', value: '3' },
    ])
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    expect((await h.secrets(id)).map((s) => s.status)).toEqual(['delivered', 'delivered', 'delivered'])
    expect(postSizes(h)).toEqual([3, 1, 1, 1])
    expect(h.fake.requests.filter((r) => r.method === 'GET')).toHaveLength(0)
  })
})
