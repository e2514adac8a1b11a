// Sends each change to the relay: encrypted, with the service-account token, in order per Secret,
// retried with backoff until the relay takes it.
import type { Logger } from 'pino'
import { type Dispatcher, request } from 'undici'
import type { TokenSource } from '../config/token.js'
import { parseRetryAfter, retryDelayMs } from '../delivery/backoff.js'
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

export interface SenderDeps {
  relay: WatchConfig['relay']
  retry: WatchConfig['retry']
  /** The projected service-account token, read from its file on every request. */
  token: TokenSource
  keys: RelayKeys
  log: Logger
  dispatcher?: Dispatcher
}

export interface Sender {
  /** Queues one change of a Secret behind that Secret's earlier changes. */
  send(source: string, event: SecretEvent): void
  /** Changes the relay has not taken yet. */
  pending(): number
  /** Stops retrying; changes not taken are sent again after a restart (every watched Secret is). */
  stop(): void
}

const MAX_ANSWER_BYTES = 16 * 1024

export function createSender(deps: SenderDeps): Sender {
  const { relay, log } = deps
  const queues = new Map<string, { source: string; event: SecretEvent }[]>()
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
      let text = ''
      for await (const chunk of res.body) if (text.length < MAX_ANSWER_BYTES) text += String(chunk)
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

  async function deliver(source: string, event: SecretEvent): Promise<void> {
    const fields = { source, event: event.id, namespace: event.namespace, name: event.name }
    for (let attempt = 1; !stop.signal.aborted; attempt++) {
      const answer = await post(source, event)
      if (answer.kind === 'ok') {
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

  async function drain(key: string): Promise<void> {
    const queue = queues.get(key)!
    while (queue.length > 0 && !stop.signal.aborted) {
      const next = queue[0]!
      await deliver(next.source, next.event)
      queue.shift()
      pending -= 1
    }
    queues.delete(key)
  }

  return {
    send(source, event) {
      if (stop.signal.aborted) return
      pending += 1
      const key = `${source}|${event.uid}`
      const queue = queues.get(key)
      if (queue !== undefined) {
        queue.push({ source, event })
        return
      }
      queues.set(key, [{ source, event }])
      void drain(key)
    },
    pending: () => pending,
    stop: () => stop.abort(),
  }
}
