// Sends each change to the relay: encrypted, with the service-account token, in order per Secret,
// retried with backoff until the relay takes it; a newer change replaces one not yet sent.
import type { Logger } from 'pino'
import { type Dispatcher, request } from 'undici'
import type { TokenSource } from '../config/token.js'
import { parseRetryAfter, retryDelayMs } from '../delivery/backoff.js'
import { readText } from '../http/outbound.js'
import { USER_AGENT } from '../version.js'
import type { SecretEvent } from './changes.js'
import type { WatchConfig } from './config.js'
import type { RelayKeys } from './relay-keys.js'

/** What one POST came to. `refused`: the relay verified the event and can never take it (413, 422). */
type Answer =
  | { kind: 'ok'; status: number; duplicate: boolean }
  | { kind: 'refused'; status: number; code: string | undefined }
  | {
      kind: 'retry'
      status?: number
      code?: string | undefined
      reason: string
      retryAfterMs?: number
      refreshKeys?: boolean
    }

/** What became of one POST (or of a change never POSTed): for metrics, never with a value. */
export type SendOutcome = 'taken' | 'duplicate' | 'refused' | 'retry' | 'superseded' | 'dropped'

export interface SenderEvents {
  onOutcome?(source: string, outcome: SendOutcome): void
  /** The relay took a change (or had it already). */
  onTaken?(source: string, at: number): void
  /** The relay took (or had) this change: the periodic resync leaves its Secret alone until it changes. */
  onAcknowledged?(source: string, event: SecretEvent): void
}

export interface SenderDeps {
  relay: WatchConfig['relay']
  retry: WatchConfig['retry']
  /** The projected service-account token, read from its file on every request. */
  token: TokenSource
  keys: RelayKeys
  log: Logger
  dispatcher?: Dispatcher
  events?: SenderEvents
}

export interface Sender {
  /**
   * Sends one change of a Secret after that Secret's change in flight, if any. Only the newest value
   * of a Secret matters (the relay never regresses one), so it replaces a change still waiting: per
   * Secret at most one is in flight and one waits, however long the relay is down.
   */
  send(source: string, event: SecretEvent): void
  /** A deleted Secret: its waiting change is dropped, the one in flight is not tried again. */
  forget(source: string, uid: string): void
  /** Changes the relay has not taken yet (in flight or waiting): at most two per Secret. */
  pending(): number
  /** Stops retrying; changes not taken are sent again after a restart (every watched Secret is). */
  stop(): void
}

const MAX_ANSWER_BYTES = 16 * 1024

interface Slot {
  source: string
  inFlight: SecretEvent
  next: SecretEvent | undefined
  /** The Secret was deleted: the change in flight is not tried again. */
  forgotten: boolean
}

export function createSender(deps: SenderDeps): Sender {
  const { relay, log } = deps
  const events = deps.events ?? {}
  /** Per Secret: the change in flight, and the newest one waiting behind it. */
  const secrets = new Map<string, Slot>()
  const stop = new AbortController()
  let pending = 0

  async function post(source: string, event: SecretEvent): Promise<Answer> {
    let token: string
    let body: string
    try {
      token = deps.token()
    } catch {
      return { kind: 'retry', reason: 'the service-account token file cannot be read' }
    }
    try {
      body = await deps.keys.encrypt(JSON.stringify(event))
    } catch (err) {
      return {
        kind: 'retry',
        reason: `the relay's encryption key is unavailable (${(err as Error).message})`,
      }
    }
    try {
      const res = await request(`${relay.url.replace(/\/+$/, '')}/hooks/${encodeURIComponent(source)}`, {
        method: 'POST',
        ...(deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher }),
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/jose',
          'user-agent': USER_AGENT,
        },
        body,
        headersTimeout: relay.timeoutMs,
        bodyTimeout: relay.timeoutMs,
        signal: AbortSignal.any([AbortSignal.timeout(relay.timeoutMs), stop.signal]),
      })
      const text = await readText(res.body, MAX_ANSWER_BYTES)
      let answer: { code?: unknown; duplicate?: unknown } = {}
      try {
        answer = JSON.parse(text) as typeof answer
      } catch {}
      const status = res.statusCode
      const code = typeof answer.code === 'string' ? answer.code : undefined
      if (status >= 200 && status < 300) return { kind: 'ok', status, duplicate: answer.duplicate === true }
      if (status === 413 || status === 422) return { kind: 'refused', status, code }
      return {
        kind: 'retry',
        status,
        code,
        reason: `the relay answered ${status}`,
        // 400 and 401 may mean the body went to a key the relay no longer holds.
        refreshKeys: status === 400 || status === 401,
        ...(status === 429 || status === 503
          ? { retryAfterMs: parseRetryAfter(res.headers['retry-after'], Date.now()) ?? 0 }
          : {}),
      }
    } catch {
      return { kind: 'retry', reason: 'the relay cannot be reached' }
    }
  }

  /** Resolves after `ms`, or at once when the sender stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        stop.signal.removeEventListener('abort', done)
        resolve()
      }
      stop.signal.addEventListener('abort', done)
    })

  async function deliver(slot: Slot): Promise<void> {
    const { source, inFlight: event } = slot
    const fields = { source, event: event.id, namespace: event.namespace, name: event.name }
    for (let attempt = 1; !stop.signal.aborted; attempt++) {
      if (slot.forgotten && attempt > 1) {
        log.info(fields, 'secret deleted: its change is not tried again')
        events.onOutcome?.(source, 'dropped')
        return
      }
      const answer = await post(source, event)
      events.onOutcome?.(
        source,
        answer.kind === 'ok' ? (answer.duplicate ? 'duplicate' : 'taken') : answer.kind,
      )
      if (answer.kind === 'ok') {
        events.onTaken?.(source, Date.now())
        events.onAcknowledged?.(source, event)
        log.info(
          { ...fields, status: answer.status, duplicate: answer.duplicate, attempt },
          'relay took the change',
        )
        return
      }
      if (answer.kind === 'refused') {
        log.error(
          { ...fields, status: answer.status, code: answer.code },
          'relay refused the change for good: check its rules',
        )
        return
      }
      if (answer.refreshKeys) deps.keys.invalidate()
      const delayMs = retryDelayMs(attempt, deps.retry, answer.retryAfterMs)
      log.warn(
        { ...fields, status: answer.status, code: answer.code, attempt, delayMs, reason: answer.reason },
        'relay did not take the change: retrying',
      )
      await pause(delayMs)
    }
  }

  async function drain(key: string, slot: Slot): Promise<void> {
    while (!stop.signal.aborted) {
      await deliver(slot)
      // Stopped: what is left stays counted as not taken.
      if (stop.signal.aborted) return
      pending -= 1
      if (slot.next === undefined) break
      slot.inFlight = slot.next
      slot.next = undefined
    }
    secrets.delete(key)
  }

  return {
    send(source, event) {
      if (stop.signal.aborted) return
      const key = `${source}|${event.uid}`
      const slot = secrets.get(key)
      if (slot === undefined) {
        pending += 1
        const created: Slot = { source, inFlight: event, next: undefined, forgotten: false }
        secrets.set(key, created)
        void drain(key, created)
        return
      }
      if (slot.next === undefined) pending += 1
      else {
        log.debug({ source, event: slot.next.id, by: event.id }, 'change superseded before it was sent')
        events.onOutcome?.(source, 'superseded')
      }
      slot.next = event
      slot.forgotten = false
    },
    forget(source, uid) {
      const slot = secrets.get(`${source}|${uid}`)
      if (slot === undefined) return
      slot.forgotten = true
      if (slot.next !== undefined) {
        slot.next = undefined
        pending -= 1
        events.onOutcome?.(source, 'dropped')
      }
    },
    pending: () => pending,
    stop: () => stop.abort(),
  }
}
