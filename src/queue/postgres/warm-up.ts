// Warming PostgreSQL connections before they serve: every connection of the pool opened at start, and
// each new one made to run the hot statements once, so a new replica's first events do not pay for it.
import type pg from 'pg'
import type { Logger } from 'pino'
import { ENQUEUE, enqueueValues } from './enqueue.js'
import { CLAIM, claimValues, RENEW, SETTLE, settleValues } from './leases.js'
import { CONTROL_SELECT } from './operations.js'
import { connect, describeError, isConnectionError } from './pool.js'

/**
 * The hot statements with arguments that make them do nothing: no event, nothing due at time 0, no
 * outcome. Each still runs as the hot path runs it: prepared under its name on this connection, its
 * PL/pgSQL function compiled and its first statements planned, the tables' and indexes' catalog entries
 * loaded in this backend. Nothing is written (not even a transaction id is taken).
 */
function idleCalls(): pg.QueryConfig[] {
  return [
    { ...ENQUEUE, values: enqueueValues([]) },
    { ...CLAIM, values: claimValues({ owner: 'warm-up', now: 0, leaseMs: 0, limit: 1 }, 0) },
    { ...SETTLE, values: settleValues('warm-up', 0, [], []) },
    { ...RENEW, values: ['warm-up', 0, 0, [], [], [], false] },
    { text: CONTROL_SELECT },
  ]
}

/**
 * Runs the idle calls on `client`. A failure is logged and forgotten: warming must never keep a
 * connection from serving (a real statement that fails then is reported as usual).
 */
export async function warmUp(client: pg.ClientBase, log?: Logger): Promise<Error | undefined> {
  try {
    for (const call of idleCalls()) await client.query(call)
    return undefined
  } catch (err) {
    log?.warn({ err: describeError(err) }, 'warming a PostgreSQL connection failed; it serves cold')
    return err as Error
  }
}

/**
 * Opens `count` connections of the pool at once (the pool keeps them: its `min`), warms each, and gives
 * them back. A connection the database refuses now (max_connections) is left to be opened on demand.
 */
export async function openWarm(pool: pg.Pool, count: number, log?: Logger): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => connect(pool)))
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
  const refused = opened.find((o) => o.status === 'rejected')
  if (refused !== undefined) {
    log?.warn(
      { err: describeError(refused.reason), opened: clients.length, poolSize: count },
      'could not open every PostgreSQL connection at start; the rest open on demand',
    )
  }
  await Promise.all(
    clients.map(async (client) => {
      const failed = await warmUp(client, log)
      // a connection that failed is destroyed, not given back
      client.release(isConnectionError(failed) ? failed : undefined)
    }),
  )
}
