// Outbound notifications: queued durably in the store's outbox, then posted, signed, by a sender that
// retries with backoff (at least once, one stable webhook-id each, capped tries).
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { NotifyConfig } from '../config/schema.js'
import { retryDelayMs } from '../delivery/backoff.js'
import { createDispatcher, type ProxyConfig } from '../http/outbound.js'
import { errorFields } from '../log.js'
import type { PendingNotification, Store } from '../queue/store.js'
import { postNotification } from './send.js'
import { NOTIFICATION_TYPES, type NotificationBody, type Notifier } from './types.js'

/** Notifications one sender posts at once. */
const AT_ONCE = 4
/** Longest the sender sleeps before looking again (other replicas queue into the same outbox). */
const POLL_MS = 5_000
/** Longest a reason is kept in a log line or the outbox. */
const MAX_REASON = 300

/** What a notification try is counted as in `relay_notifications_total{outcome}`. */
export type NotificationOutcome = 'queued' | 'sent' | 'retry' | 'failed'

export interface NotifierDeps {
  store: Store
  config: NotifyConfig
  log: Logger
  /** Who leases outbox rows (unique per process, as the delivery worker's owner). */
  owner: string
  proxy?: ProxyConfig
  /** Replaces the notifier's own dispatcher (tests); it is then not closed by `stop()`. */
  dispatcher?: Dispatcher
  clock?: () => number
  random?: () => number
  /** Longest sleep between looks at the outbox (default POLL_MS). */
  pollMs?: number
  /** Told each count, for `relay_notifications_total{kind,outcome}`. */
  counted?: (kind: string, outcome: NotificationOutcome) => void
}

/** A notifier with its sender: started after the relay listens, stopped before the store closes. */
export interface NotificationSender extends Notifier {
  start(): void
  /** Stops looking for work and ends the tries under way (each recorded as a retry). Idempotent. */
  stop(): Promise<void>
}

export function createNotifier(deps: NotifierDeps): NotificationSender {
  const { store, config, log, owner } = deps
  const clock = deps.clock ?? Date.now
  const random = deps.random ?? Math.random
  const pollMs = deps.pollMs ?? POLL_MS
  const counted = deps.counted ?? (() => {})
  const kinds = new Set<string>(config.events)
  const dispatcher =
    deps.dispatcher ??
    createDispatcher(deps.proxy ?? {}, {
      connect: { timeout: config.timeoutMs },
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
    })
  // A lease outlasts one try with room to record it; a sender that dies mid-try leaves it to the next.
  const leaseMs = config.timeoutMs + 10_000
  let running: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  const halt = new AbortController()
  let stopped = false
  let wake: (() => void) | undefined
  /** Set by notify: something was queued since the sender last looked (it may be looking now). */
  let poked = false

  async function attempt(n: PendingNotification): Promise<void> {
    const sent = await postNotification(
      {
        url: config.url,
        secret: config.secret,
        dispatcher,
        timeoutMs: config.timeoutMs,
        now: clock(),
        signal: halt.signal,
      },
      n.id,
      n.body,
    )
    const fields = { notification: n.id, kind: n.kind, attempt: n.attempts }
    if (sent.ok) {
      await store.finishNotification(n.id, owner, { kind: 'sent' })
      counted(n.kind, 'sent')
      log.debug(fields, 'notification sent')
      return
    }
    const error = sent.reason.slice(0, MAX_REASON)
    if (n.attempts >= config.maxAttempts) {
      await store.finishNotification(n.id, owner, { kind: 'failed', error })
      counted(n.kind, 'failed')
      log.warn({ ...fields, error }, 'notification given up')
      return
    }
    const policy = { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs }
    const at = clock() + retryDelayMs(n.attempts, policy, sent.retryAfterMs, random)
    await store.finishNotification(n.id, owner, { kind: 'retry', at, error })
    counted(n.kind, 'retry')
    log.info({ ...fields, error, retryAt: new Date(at).toISOString() }, 'notification will be retried')
  }

  /** Sends what is due; true when there may be more due at once. */
  async function round(): Promise<boolean> {
    const due = await store.claimNotifications(owner, clock(), leaseMs, AT_ONCE)
    await Promise.all(
      due.map((n) =>
        attempt(n).catch((err) => {
          // the store refused the result: the lease runs out and the notification is tried again
          log.error({ err: errorFields(err), notification: n.id }, 'could not record a notification try')
        }),
      ),
    )
    return due.length === AT_ONCE
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      poked = false
      let more = false
      let next: number | null = null
      try {
        more = await round()
        if (!more) next = await store.nextNotificationAt()
      } catch (err) {
        log.warn({ err: errorFields(err) }, 'could not read the notification outbox; trying again')
      }
      if (more || stopped || poked) continue
      const waitMs = Math.max(0, Math.min(pollMs, next === null ? pollMs : next - clock()))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
  }

  return {
    async notify(kind, info) {
      if (!kinds.has(kind)) return
      const at = info.at ?? clock()
      const body: NotificationBody = {
        type: NOTIFICATION_TYPES[kind],
        vault: info.vault,
        name: info.name,
        source: info.source,
        eventId: info.eventId,
        reason: info.reason.slice(0, MAX_REASON),
        at: new Date(at).toISOString(),
      }
      // The spec forbids a '.' in the id (it is part of the signed `id.timestamp.body`).
      const id = `msg_${randomUUID().replaceAll('-', '')}`
      try {
        await store.addNotification({ id, kind, body: JSON.stringify(body), createdAt: clock() })
        counted(kind, 'queued')
        poked = true
        wake?.()
      } catch (err) {
        counted(kind, 'failed')
        log.error(
          { err: errorFields(err), kind, vault: info.vault, name: info.name },
          'could not queue a notification',
        )
      }
    },
    start() {
      running ??= loop()
    },
    stop() {
      stopping ??= (async () => {
        stopped = true
        wake?.()
        halt.abort()
        await running
        if (deps.dispatcher === undefined) await dispatcher.close()
      })()
      return stopping
    },
  }
}
