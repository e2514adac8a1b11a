// End to end through the binary, on SQLite and on PostgreSQL: a write the relay stopped waiting for (its
// request timed out, or a shutdown cut it off) lands at RWX late, yet RWX ends on the newest value.
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import {
  expectNewestLast,
  freshName,
  openSite,
  post,
  requested,
  rwxToken,
  type Site,
  type StoreKind,
  settled,
} from '../support/uncertain-writes.js'

let rwx: FakeRwx
let site: Site | undefined

beforeAll(async () => {
  rwx = await startFakeRwx({ token: rwxToken })
})
afterAll(async () => {
  await rwx?.close()
})
afterEach(async () => {
  await site?.close()
  site = undefined
  rwx.reset()
})

const now = () => Math.floor(Date.now() / 1000)
const landed = (value: string) => rwx.writes.some((w) => w.secret === value)

describe.each<StoreKind>(['sqlite', 'postgres'])('a write of unknown outcome landing late (%s)', (kind) => {
  it('RWX ends on the newer value when the older one lands after its request timed out', async () => {
    // The relay gives up on v1 after 500 ms; RWX stores it at 1,500 ms, inside the 3 s fence.
    site = await openSite(kind, inject('pgAdminUrl'), rwx, {
      delivery: { requestTimeoutMs: 500, uncertainWriteSeconds: 3 },
    })
    const relay = await site.start()
    const name = freshName()
    const v1 = `v1-${randomUUID()}`
    const v2 = `v2-${randomUUID()}`
    rwx.delay(1_500, 1)
    const t = now()
    const e1 = await post(relay, name, v1, t)
    await requested(rwx, v1)
    const e2 = await post(relay, name, v2, t + 1)

    await settled(rwx, relay, [v1, v2])
    expect(relay.output()).toContain('RWX request timed out')
    await expectNewestLast(rwx, relay, name, { value: v1, event: e1 }, { value: v2, event: e2 })
  })

  it('RWX ends on the newer value when the older one lands after a shutdown gave up on it', async () => {
    // A 2 s grace cuts v1's request off about 1 s after SIGTERM (a second is kept to settle); RWX stores
    // it 5 s after it arrived, inside the 6 s fence. The relay started again on the store is up well
    // before that (a relay that sent v2 at once would have it overwritten by v1) and sends v2 after.
    site = await openSite(kind, inject('pgAdminUrl'), rwx, {
      server: { shutdownGraceSeconds: 2 },
      delivery: { uncertainWriteSeconds: 6 },
    })
    const first = await site.start()
    const name = freshName()
    const v1 = `v1-${randomUUID()}`
    const v2 = `v2-${randomUUID()}`
    rwx.delay(5_000, 1)
    const t = now()
    const e1 = await post(first, name, v1, t)
    await requested(rwx, v1)
    const e2 = await post(first, name, v2, t + 1)
    expect(await first.kill('SIGTERM')).toBe(0)
    expect(first.output()).toContain('request to RWX cancelled (shutting down)')
    expect(landed(v1)).toBe(false)

    const second = await site.start()
    expect(landed(v1), 'the relay is up again before the abandoned write lands').toBe(false)
    await settled(rwx, second, [v1, v2])
    await expectNewestLast(rwx, second, name, { value: v1, event: e1 }, { value: v2, event: e2 })
  })
})
