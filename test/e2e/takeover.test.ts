// End to end through the binary: a replica killed -9 with secrets claimed but not sent yet. Another replica
// takes them over once the short lease ends (the killed one renewed it while alive), while the name whose
// request was in flight stays fenced: that request may still land.
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { adminQuery } from '../support/postgres.js'
import { freshName, now, post, setPaused, useSites } from '../support/uncertain-writes.js'
import { until } from '../support/until.js'

const sites = useSites()

const VAULTS = ['t1', 't2', 't3', 't4', 't5']
// The lease a claim took before leases were renewed: requestTimeoutMs + uncertainWriteSeconds.
const OLD_LEASE_MS = 15_000 + 60_000

describe('a replica killed -9 with claimed secrets it has not sent', () => {
  it('another replica sends them once the short lease ends, and keeps the name in flight fenced', async () => {
    // One request at a time, one vault a request: a claim of five takes five vaults and sends one.
    // Delivery is paused while the five events arrive, so the first claim (on resume) takes all five.
    const site = await sites.open('postgres', {
      delivery: { leaseSeconds: 5, batchSize: 5, concurrency: 1 },
      vaultFromEvent: true,
    })
    const first = await site.start()
    // the first request hangs past the test: it is in flight when its sender dies
    sites.rwx.delay(120_000, 1)
    const t = now()
    const sent = VAULTS.map((vault) => ({ vault, name: freshName(), value: `v-${randomUUID()}` }))
    await setPaused(first, true)
    await Promise.all(sent.map((s) => post(first, s.name, s.value, t, s.vault)))
    await setPaused(first, false)
    await sites.rwx.waitFor((_w, requests) => requests.length === 1, 10_000)
    const inFlight = (sites.rwx.requests[0]!.body as { vault_name: string }).vault_name
    const leases = async () =>
      (
        await adminQuery<{ leased: number; sending: number }>(
          site.databaseUrl!,
          `SELECT COUNT(*) FILTER (WHERE lease_owner LIKE $1)::int AS leased,
             COUNT(*) FILTER (WHERE lease_owner LIKE $1 AND sending_since IS NOT NULL)::int AS sending
           FROM names`,
          [`%:${first.child.pid}:%`],
        )
      ).rows[0]
    // all five claimed by the first replica, one of them marked as being sent
    await until(async () => (await leases())?.sending === 1, 'the mark of the request in flight')
    expect(await leases()).toEqual({ leased: 5, sending: 1 })

    const second = await site.start()
    expect(await first.kill('SIGKILL')).toBe('SIGKILL')
    const unsent = sent.filter((s) => s.vault !== inFlight)
    // bounded well below the lease a claim used to take (75 s with these settings)
    await sites.rwx.waitFor(
      (writes) => unsent.every((s) => writes.some((w) => w.secret === s.value)),
      OLD_LEASE_MS - 30_000,
    )
    // the name whose request may still land is not sent again: its lease became a fence
    expect(
      sites.rwx.requests.filter((r) => (r.body as { vault_name: string }).vault_name === inFlight),
    ).toHaveLength(1)
    const { rows } = await adminQuery<{ owner: string; unconfirmed: boolean }>(
      site.databaseUrl!,
      'SELECT lease_owner AS owner, unconfirmed_since IS NOT NULL AS unconfirmed FROM names WHERE vault = $1',
      [inFlight],
    )
    expect(rows).toEqual([{ owner: '(unknown outcome)', unconfirmed: true }])
    expect(second.child.exitCode).toBeNull()
  })
})
