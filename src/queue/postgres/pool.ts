// The PostgreSQL connection pool of the queue: timeouts, BIGINT as numbers, transactions, and store errors.
import pg from 'pg'
import type { Logger } from 'pino'
import { RelayError } from '../../errors.js'

/** What a query needs: a pooled client inside a transaction, or the pool itself. */
export type Queryable = Pick<pg.PoolClient, 'query'>

export interface PoolOptions {
  url: string
  /** Connections this process opens at most. */
  max: number
  /** Waiting for a connection (a new one, or a free one from a busy pool). */
  connectTimeoutMs: number
  /** Longest any statement (or wait for a lock) may run on the server. */
  statementTimeoutMs: number
  log?: Logger | undefined
  /** Runs on each new connection before it is handed out (warm-up.ts). */
  onConnect?: ((client: pg.ClientBase) => Promise<unknown>) | undefined
}

// Ids and epoch milliseconds are BIGINT; every one of them fits a double exactly (below 2^53).
const INT8 = pg.types.builtins.INT8
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
}

/** Opens a pool whose idle connections may fail (database restart) without taking the process down. */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    // connections opened (and warmed) stay open, idle or not: a replica's are all opened at start
    min: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    // the client gives up too, for a server that stopped answering without closing the connection
    query_timeout: options.statementTimeoutMs + 5_000,
    // a relay frozen inside a transaction must not hold names locks for long
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: 'vault-relay',
    keepAlive: true,
    types,
    ...(options.onConnect ? { onConnect: options.onConnect } : {}),
  })
  // An idle connection that fails (database restarting) is dropped by the pool; without a listener,
  // the 'error' event would end the process.
  pool.on('error', (err) => {
    options.log?.warn(
      { err: describeError(err) },
      'an idle PostgreSQL connection failed; the pool replaces it',
    )
  })
  return pool
}

// 40001 serialization failure, 40P01 deadlock: the transaction did nothing and can run again.
const RETRYABLE = new Set(['40001', '40P01'])
const ATTEMPTS = 3

/**
 * Runs `fn` in one transaction on a pooled connection: COMMIT when it resolves, ROLLBACK when it throws.
 * A deadlock or serialization failure (the lock order should prevent them) runs it again. A connection
 * that failed is destroyed rather than given back to the pool.
 */
export function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return onConnection(pool, true, fn)
}

/**
 * Runs one statement on its own: it is its own transaction (one round trip, no BEGIN and COMMIT),
 * retried and cleaned up as `transaction` does. It runs as the prepared statement `name`, so each
 * connection parses it once, not on every call.
 */
export function statement<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  prepared: { name: string; text: string },
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  return onConnection(pool, false, (client) => client.query<R>({ ...prepared, values }))
}

async function onConnection<T>(
  pool: pg.Pool,
  inTransaction: boolean,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await connect(pool)
    // A checked-out client has no listener of the pool's: an error between queries would crash.
    let broken: Error | undefined
    const onError = (err: Error) => {
      broken = err
    }
    client.on('error', onError)
    try {
      if (inTransaction) await client.query('BEGIN')
      const result = await fn(client)
      if (inTransaction) await client.query('COMMIT')
      return result
    } catch (err) {
      // a connection that failed or timed out is in no state to roll back: closing it rolls back
      if (isConnectionError(err)) broken ??= err as Error
      else if (inTransaction)
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
          broken ??= rollbackFailed
        })
      if (attempt < ATTEMPTS && RETRYABLE.has(codeOf(err)) && broken === undefined) continue
      throw err
    } finally {
      client.removeListener('error', onError)
      client.release(broken ?? false)
    }
  }
}

/**
 * Getting a connection failed: whatever the reason (refused, timed out, turned away by the server),
 * the database cannot be reached now.
 */
class ConnectError extends Error {
  override readonly name = 'ConnectError'
  readonly code: string
  constructor(cause: unknown) {
    super(`cannot connect to PostgreSQL: ${describeError(cause).message}`, { cause })
    this.code = codeOf(cause)
  }
}

/** A client from the pool; failing to get one is a ConnectError. */
export async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect()
  } catch (err) {
    throw new ConnectError(err)
  }
}

/** Checks that the database answers, on a connection of the pool. */
export async function ping(pool: pg.Pool): Promise<void> {
  const client = await connect(pool)
  let broken: Error | undefined
  try {
    await client.query('SELECT 1')
  } catch (err) {
    broken = err as Error
    throw err
  } finally {
    client.release(broken ?? false)
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

/**
 * Whether `err` says the database cannot be reached now: refused or dropped connections, a server
 * shutting down or starting (SQLSTATE classes 08 and 57P), too many connections (53300), timeouts.
 */
export function isConnectionError(err: unknown): boolean {
  return err instanceof ConnectError || isUnreachable(err)
}

/**
 * Whether `err` says the server cannot be reached or is not ready yet (refused or dropped connections,
 * starting or shutting down, too many connections, timeouts), as opposed to turning this relay away (a
 * refused password, a missing database): the former is worth waiting for.
 */
export function isUnreachable(err: unknown): boolean {
  const code = codeOf(err)
  if (/^(08|57P)/.test(code) || code === '53300' || /^E[A-Z]+$/.test(code)) return true
  const message = err instanceof Error ? err.message : ''
  return /timeout|terminated|not queryable|Connection ended/i.test(message)
}

/**
 * A store failure as callers see it: 503-worthy, with a hint when to try again (longer while the
 * database cannot be reached). The cause keeps only the code and message: a pg error's `detail` can
 * quote a row.
 */
export function unavailable(err: unknown): RelayError {
  if (err instanceof RelayError) return err
  const down = isConnectionError(err)
  return new RelayError(
    'ERR_STORE_UNAVAILABLE',
    down ? 'the PostgreSQL queue store cannot be reached now' : 'the PostgreSQL queue store failed',
    {
      retryAfter: down ? 5 : 1,
      cause: new Error(`${describeError(err).code} ${describeError(err).message}`.trim()),
    },
  )
}

/** An error's code and message for logs; never a pg error's `detail` (it can quote a row). */
export function describeError(err: unknown): { code: string; message: string } {
  if (!(err instanceof Error)) return { code: '', message: String(err) }
  // a refused connection to a name with several addresses is an AggregateError with no message
  const first = err instanceof AggregateError ? (err.errors[0] as unknown) : undefined
  const message = err.message || (first instanceof Error ? first.message : '') || err.name
  return { code: codeOf(err), message }
}
