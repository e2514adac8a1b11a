// A 200 without set_secrets (a proxy, a stub, a changed API): the read-back decides whether to send again.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const posts = (h: Harness) => h.fake.requests.filter((r) => r.method === 'POST')
const bareWarnings = (h: Harness) =>
  h.logs.filter((l) => l.includes('RWX answered 200 without set_secrets')).length

describe('delivery worker: RWX answers 200 {}', () => {
  it('takes a write RWX holds at a version above the last delivered one as delivered, without sending it again', async () => {
    h = await createHarness({ config: { authRetrySeconds: 60 } })
    const names = Array.from({ length: 11 }, (_, i) => `S${i}`)
    const first = await h.enqueue(names.map((name) => ({ name, value: `old-${name}` })))
    await h.until(() => allIn(h, first, 'delivered'))
    const before = posts(h).length
    const writesBefore = h.fake.writes.length
    h.fake.answerBare({ stored: true })

    const id = await h.enqueue(names.map((name) => ({ name, value: `new-${name}` })))
    await h.until(() => allIn(h, id, 'delivered'))
    // 11 secrets, batchSize 10: two requests, no resend.
    expect(posts(h).length - before).toBe(2)
    expect(h.fake.writes.length - writesBefore).toBe(11)
    for (const s of await h.secrets(id)) expect(s.rwxVersion).toBe(2)
    expect(bareWarnings(h)).toBe(1)
    const logs = h.logs.join('\n')
    for (const name of names) expect(logs).not.toContain(`new-${name}`)
  })

  it('sends again a write RWX does not hold, or holds only at the version already delivered', async () => {
    h = await createHarness({ config: { authRetrySeconds: 60 } })
    const first = await h.enqueue([{ name: 'KNOWN', value: 'v1' }])
    await h.until(() => allIn(h, first, 'delivered'))
    // A stub in front of RWX: it answers {} and stores nothing.
    h.fake.answerBare({ stored: false })
    const id = await h.enqueue([
      { name: 'KNOWN', value: 'v2' },
      { name: 'FRESH', value: 'f1' },
    ])
    await h.until(async () => (await h.secrets(id)).every((s) => s.attempts >= 1))
    const [known, fresh] = await h.secrets(id)
    expect(known!.status).toBe('queued')
    expect(known!.lastError).toMatch(/not newer than version 1 the relay last delivered: sending it again$/)
    expect(fresh!.lastError).toMatch(/RWX does not hold it: sending it again$/)

    h.fake.answerBare(null)
    await h.until(() => allIn(h, id, 'delivered'))
    expect(h.fake.secrets('payments').get('KNOWN')).toMatchObject({ secret: 'v2', version: 2 })
    expect(h.fake.secrets('payments').get('FRESH')).toMatchObject({ secret: 'f1', version: 1 })
  })
})
