// End to end through the binary: a relay killed -9 while its write is in flight at RWX, which stores that
// write after the process is gone. Whoever sends the name's next value must not send it before.
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { adminQuery } from '../support/postgres.js'
import {
  expectNewestLast,
  freshName,
  now,
  post,
  requested,
  settled,
  useSites,
} from '../support/uncertain-writes.js'
import { until } from '../support/until.js'

const sites = useSites()

/**
 * Two replicas on one database; RWX stores v1 `landsAfterMs` after it arrived. The replica sending it is
 * killed -9 once v2 is posted to the other, which must send v2 only after v1 has landed.
 */
async function killTheSenderOfTwoReplicas(delivery: Record<string, number>, landsAfterMs: number) {
  const site = await sites.open('postgres', { delivery })
  const replicas = [await site.start(), await site.start()]
  const name = freshName()
  const v1 = `v1-${randomUUID()}`
  const v2 = `v2-${randomUUID()}`
  sites.rwx.delay(landsAfterMs, 1)
  const t = now()
  const e1 = await post(replicas[0]!, name, v1, t)
  await requested(sites.rwx, v1)
  // Whichever replica leased the name is sending v1: that one is killed.
  let owner = ''
  await until(async () => {
    const { rows } = await adminQuery<{ owner: string | null }>(
      site.databaseUrl!,
      "SELECT lease_owner AS owner FROM names WHERE vault = 'ci' AND name = $1",
      [name],
    )
    owner = rows[0]?.owner ?? ''
    return owner !== ''
  }, 'the lease of the name')
  const victim = replicas.find((r) => owner.includes(`:${r.child.pid}:`))
  const survivor = replicas.find((r) => r !== victim)!
  expect(victim, `the lease owner ${owner} is one of the replicas`).toBeDefined()
  const e2 = await post(survivor, name, v2, t + 1)
  expect(await victim!.kill('SIGKILL')).toBe('SIGKILL')

  await settled(sites.rwx, survivor, [v1, v2])
  await expectNewestLast(sites.rwx, survivor, name, { value: v1, event: e1 }, { value: v2, event: e2 })
}

describe('a write in flight when the relay is killed -9', () => {
  it('on SQLite, the restarted relay fences the name from the start and RWX ends on the newer value', async () => {
    // RWX stores v1 5 s after it arrived; the relay started again on the file is up well before that (a
    // relay that sent v2 at once would have it overwritten by v1), and fences the name 6 s from its start.
    const site = await sites.open('sqlite', { delivery: { uncertainWriteSeconds: 6 } })
    const first = await site.start()
    const name = freshName()
    const v1 = `v1-${randomUUID()}`
    const v2 = `v2-${randomUUID()}`
    sites.rwx.delay(5_000, 1)
    const t = now()
    const e1 = await post(first, name, v1, t)
    await requested(sites.rwx, v1)
    const e2 = await post(first, name, v2, t + 1)
    expect(await first.kill('SIGKILL')).toBe('SIGKILL')

    const second = await site.start()
    expect(sites.landed(v1), 'the relay is up again before the abandoned write lands').toBe(false)
    await settled(sites.rwx, second, [v1, v2])
    await expectNewestLast(sites.rwx, second, name, { value: v1, event: e1 }, { value: v2, event: e2 })
  })

  it('on PostgreSQL, the killed replica’s lease holds the name and the other replica sends the newer value after', () =>
    // leaseSeconds 5, the schema's minimum: RWX stores v1 3 s after it arrived, before the killed
    // replica's lease (renewed while it lived) has run out.
    killTheSenderOfTwoReplicas({ leaseSeconds: 5, requestTimeoutMs: 2_000, uncertainWriteSeconds: 3 }, 3_000))

  // The killed replica had marked the name as being sent: the claim that takes its expired lease over
  // fences the name for uncertainWriteSeconds instead of sending, for as long as that write may land.
  it(
    'on PostgreSQL, a write in flight at kill -9 holds its name for uncertainWriteSeconds even past the lease',
    () =>
      // (the lease ends within 5 s of the kill, then the fence lasts 10 s; RWX stores v1 7 s after it
      // arrived, past the lease)
      killTheSenderOfTwoReplicas(
        { leaseSeconds: 5, requestTimeoutMs: 4_000, uncertainWriteSeconds: 10 },
        7_000,
      ),
    60_000,
  )
})
