// End to end through the binary, on SQLite and on PostgreSQL: a write the relay stopped waiting for (its
// request timed out, or a shutdown cut it off) lands at RWX late, yet RWX ends on the newest value.
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  expectNewestLast,
  freshName,
  now,
  post,
  requested,
  type StoreKind,
  settled,
  useSites,
} from '../support/uncertain-writes.js'

const sites = useSites()

describe.each<StoreKind>(['sqlite', 'postgres'])('a write of unknown outcome landing late (%s)', (kind) => {
  it('RWX ends on the newer value when the older one lands after its request timed out', async () => {
    // The relay gives up on v1 after 500 ms; RWX stores it at 1,500 ms, inside the 3 s fence.
    const site = await sites.open(kind, {
      delivery: { requestTimeoutMs: 500, uncertainWriteSeconds: 3 },
    })
    const relay = await site.start()
    const name = freshName()
    const v1 = `v1-${randomUUID()}`
    const v2 = `v2-${randomUUID()}`
    sites.rwx.delay(1_500, 1)
    const t = now()
    const e1 = await post(relay, name, v1, t)
    await requested(sites.rwx, v1)
    const e2 = await post(relay, name, v2, t + 1)

    await settled(sites.rwx, relay, [v1, v2])
    expect(relay.output()).toContain('RWX request timed out')
    await expectNewestLast(sites.rwx, relay, name, { value: v1, event: e1 }, { value: v2, event: e2 })
  })

  it('RWX ends on the newer value when the older one lands after a shutdown gave up on it', async () => {
    // A 2 s grace cuts v1's request off about 1 s after SIGTERM (a second is kept to settle); RWX stores
    // it 5 s after it arrived, inside the 6 s fence. The relay started again on the store is up well
    // before that (a relay that sent v2 at once would have it overwritten by v1) and sends v2 after.
    const site = await sites.open(kind, {
      server: { shutdownGraceSeconds: 2 },
      delivery: { uncertainWriteSeconds: 6 },
    })
    const first = await site.start()
    const name = freshName()
    const v1 = `v1-${randomUUID()}`
    const v2 = `v2-${randomUUID()}`
    sites.rwx.delay(5_000, 1)
    const t = now()
    const e1 = await post(first, name, v1, t)
    await requested(sites.rwx, v1)
    const e2 = await post(first, name, v2, t + 1)
    expect(await first.kill('SIGTERM')).toBe(0)
    expect(first.output()).toContain('request to RWX cancelled (shutting down)')
    expect(sites.landed(v1)).toBe(false)

    const second = await site.start()
    expect(sites.landed(v1), 'the relay is up again before the abandoned write lands').toBe(false)
    await settled(sites.rwx, second, [v1, v2])
    await expectNewestLast(sites.rwx, second, name, { value: v1, event: e1 }, { value: v2, event: e2 })
  })
})
