// Writes with an unknown outcome: a request RWX may still apply holds its name until it can no longer
// land, and the next write of the name is confirmed by reading RWX's version back.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

/** The values RWX stored for payments/A, in write order. */
const writesOfA = (h: Harness) => h.fake.writes.filter((w) => w.name === 'A').map((w) => w.secret)

describe('delivery after an unknown outcome', () => {
  it('a timed-out write that lands late is not overtaken by the newer value', async () => {
    h = await createHarness({ config: { requestTimeoutMs: 300, uncertainWriteSeconds: 1 } })
    // RWX takes 800 ms: the relay gives up at 300 ms, and the write still lands at 800 ms
    h.fake.delay(800, 1)
    const old = await h.enqueue([{ name: 'A', value: 'old' }])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    const fresh = await h.enqueue([{ name: 'A', value: 'new' }])
    await h.until(() => allIn(h, fresh, 'delivered'), 5_000)
    expect(writesOfA(h)).toEqual(['old', 'new'])
    expect(h.fake.secrets('payments').get('A')?.secret).toBe('new')
    expect((await h.secrets(old))[0]).toMatchObject({ status: 'superseded' })
    // the write after the fence was read back (delivery.verify is off) and confirmed
    const reads = h.fake.requests.filter((r) => r.method === 'GET')
    expect(reads).toHaveLength(1)
  })

  it('writes again when RWX holds a newer version than the write after the fence', async () => {
    h = await createHarness({ config: { requestTimeoutMs: 300, uncertainWriteSeconds: 1 } })
    h.fake.delay(800, 1)
    await h.enqueue([{ name: 'A', value: 'old' }])
    await h.fake.waitFor((_, requests) => requests.length === 1)
    // the first read-back after the fence sees a version newer than written (a late write landed after)
    let reads = 0
    h.fake.overrideReads((_vault, name) => (name === 'A' && ++reads === 1 ? 99 : undefined))
    const fresh = await h.enqueue([{ name: 'A', value: 'new' }])
    await h.until(() => allIn(h, fresh, 'delivered'), 5_000)
    expect(writesOfA(h)).toEqual(['old', 'new', 'new'])
    expect(reads).toBe(2)
    const [secret] = await h.secrets(fresh)
    expect(secret).toMatchObject({ status: 'delivered', attempts: 2 })
    expect(h.logs.join('\n')).toContain('landed after it; writing again')
  })

  it('a refused connection is not an unknown outcome: no fence', async () => {
    h = await createHarness({ config: { uncertainWriteSeconds: 3_600 } })
    await h.fake.down()
    const id = await h.enqueue([{ name: 'A', value: 'v' }])
    await h.until(() => h.logs.some((l) => l.includes('ECONNREFUSED')), 5_000)
    await h.fake.up()
    // a fence would hold the name for an hour
    await h.until(() => allIn(h, id, 'delivered'), 5_000)
    expect(h.fake.requests.filter((r) => r.method === 'GET')).toHaveLength(0)
  })

  it('a 504 from a gateway is an unknown outcome: the name waits for the fence', async () => {
    h = await createHarness({ config: { uncertainWriteSeconds: 1 } })
    h.fake.failNext(1, { status: 504 })
    const id = await h.enqueue([{ name: 'A', value: 'v' }])
    await h.until(() => allIn(h, id, 'delivered'), 5_000)
    const [first, second] = h.fake.requests.filter((r) => r.method === 'POST')
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000)
  })
})
