// What crosses between the event loop and the SQLite store's thread: calls, answers, errors and log lines.
import { ERROR_STATUS, type ErrorCode, RelayError } from '../../errors.js'
import type { EnqueueResult, NewEvent, Store } from '../store.js'
import type { SqliteStoreStats } from './store.js'

/**
 * The store methods called across the thread as they are (arguments and answers structured-cloned).
 * `enqueue` is not one: the event loop gathers the events of a tick and sends them as one `enqueueMany`.
 */
export const THREAD_METHODS = [
  'claim',
  'renew',
  'settle',
  'release',
  'nextDueAt',
  'counts',
  'listEvents',
  'getEvent',
  'retryEvent',
  'discardEvent',
  'purge',
  'getProvenance',
  'outsideChanges',
  'getControl',
  'setPaused',
  'getName',
  'resetName',
  'inventory',
  'recordReconcile',
  'claimSweep',
  'finishSweep',
  'sweeps',
  'eraseDeadValues',
  'addNotification',
  'claimNotifications',
  'finishNotification',
  'nextNotificationAt',
  'recordAudit',
  'listAudit',
  'oldestQueuedAt',
  'ping',
  'checkpoint',
  'close',
] as const satisfies readonly (keyof Store | 'checkpoint')[]

export type ThreadMethod = (typeof THREAD_METHODS)[number]

/** Every method of the Store is either called across as it is or is one the proxy answers itself. */
type Uncovered = Exclude<keyof Store, ThreadMethod | 'enqueue' | 'kind'>
export const EVERY_METHOD_COVERED: Uncovered extends never ? true : Uncovered = true

/** A call from the event loop. */
export type ThreadCall =
  | { id: number; method: ThreadMethod; args: unknown[] }
  | { id: number; method: 'enqueueMany'; args: [NewEvent[]] }

/** One event's answer in an `enqueueMany`: its result, or the error its enqueue alone failed with. */
export type EnqueueAnswer = { ok: EnqueueResult } | { failed: WireError }

/** What the thread posts back. */
export type ThreadMessage =
  | { ready: true; stats: SqliteStoreStats }
  | { openFailed: WireError }
  | { id: number; value: unknown; stats: SqliteStoreStats }
  | { id: number; error: WireError; stats: SqliteStoreStats }
  | { log: { obj: Record<string, unknown>; msg: string } }

/** An error as it crosses: a RelayError keeps its code and Retry-After; any other its name, message and code. */
export interface WireError {
  name: string
  message: string
  code?: string | undefined
  retryAfter?: number | undefined
  cause?: WireError | undefined
}

/** The error `err` as it can cross the thread (a cause one level deep). */
export function toWire(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) }
  const code = (err as { code?: unknown }).code
  const wire: WireError = { name: err.name, message: err.message }
  if (typeof code === 'string') wire.code = code
  if (err instanceof RelayError && err.retryAfter !== undefined) wire.retryAfter = err.retryAfter
  if (err.cause !== undefined && depth === 0) wire.cause = toWire(err.cause, 1)
  return wire
}

/** The error a WireError stands for on this side: a RelayError again when it was one. */
export function fromWire(wire: WireError): Error {
  const cause = wire.cause === undefined ? undefined : fromWire(wire.cause)
  if (wire.name === 'RelayError' && wire.code !== undefined && Object.hasOwn(ERROR_STATUS, wire.code)) {
    const options: { retryAfter?: number; cause?: unknown } = { cause }
    if (wire.retryAfter !== undefined) options.retryAfter = wire.retryAfter
    return new RelayError(wire.code as ErrorCode, wire.message, options)
  }
  const err = new Error(wire.message, cause === undefined ? undefined : { cause })
  err.name = wire.name
  if (wire.code !== undefined) Object.assign(err, { code: wire.code })
  return err
}

/** A value sealed by queue/crypto.ts as it arrives from the other thread (a Uint8Array) as a Buffer again. */
export function asBuffer(bytes: Uint8Array | null): Buffer | null {
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
