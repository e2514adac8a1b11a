// The delivery worker: leases due secrets from the store, sends them to RWX in batches, settles outcomes.
import type { Logger } from 'pino'
import type { DeliveryConfig } from '../config/schema.js'
import { errorFields } from '../log.js'
import type { Sealer } from '../queue/crypto.js'
import type { Attempt, Claimed, Outcome, Store } from '../queue/store.js'
import { attemptsOf, countedRetry, deliverBatch, planBatches } from './batch.js'
import { createBreaker } from './breaker.js'
import { type RoundLeases, startHeartbeat } from './heartbeat.js'
import { createMissingVaults } from './missing-vaults.js'
import type { PauseSwitch } from './pause.js'
import { createRateLimit } from './rate-limit.js'
import type { RwxClient, SetSecretsResult } from './rwx-client.js'
import { settleRound } from './settle.js'
import type { BatchContext, BatchResult, DeliveryEvents, DeliveryHandle, DeliveryStatus } from './types.js'
import type { ReferenceResolver } from './values.js'

export interface DeliveryWorkerOptions {
  store: Store
  client: RwxClient
  sealer: Sealer
  /** Fetches values queued as references (AWS Secrets Manager); without it they are dead. */
  resolver?: ReferenceResolver | undefined
  config: DeliveryConfig
  log: Logger
  /** Epoch ms; the store's notion of now. Default Date.now. */
  clock?: () => number
  /** Lease owner id, unique per worker (e.g. host and pid). */
  owner: string
  events?: DeliveryEvents | undefined
  /** Longest idle wait before looking at the store again (other replicas, expired leases). Default 1000. */
  pollMs?: number
  /** Jitter source (tests). Default Math.random. */
  random?: () => number
  /** The global pause switch, the one the admin API sets (made once, by the relay). */
  pause: PauseSwitch
}

export interface DeliveryWorker extends DeliveryHandle {
  /** Starts the loop; calling it twice does nothing. */
  start(): void
  /**
   * Stops claiming, waits for in-flight requests, settles, releases leases. Requests still waiting on RWX
   * after `abortAfterMs` (default, and at most, requestTimeoutMs) are given up and their secrets queued
   * again, so a shutdown inside its grace period still gives its leases back.
   */
  stop(options?: { abortAfterMs?: number }): Promise<void>
}

/** Creates a worker; nothing runs until `start()`. */
export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { store, config, log, owner } = options
  const clock = options.clock ?? Date.now
  const pollMs = options.pollMs ?? 1000
  const abort = new AbortController()
  const state: Omit<DeliveryStatus, 'paused' | 'breaker' | 'missingVaults' | 'missingVaultCount'> = {
    authFailing: false,
  }
  const missingVaults = createMissingVaults({ intervalMs: config.authRetrySeconds * 1000, log })
  const rateLimit = createRateLimit(log)
  const breaker = createBreaker(config.breaker)
  const pauseSwitch = options.pause
  let wasPaused = false
  let running: Promise<void> | undefined
  let stopped: Promise<void> | undefined
  let stopping = false
  let notified = false
  /** True while a round is out: requests to RWX in flight, or their outcomes being settled. */
  let sending = false
  /** When work was first signalled while a round was out: the batch window counts from then. */
  let pendingSince: number | undefined
  let wake: { done: () => void; byNotify: boolean } | undefined

  // Each round adds its own signal and marking (runBatch): a batch is sent only under its round's heartbeat.
  const ctx: Omit<BatchContext, 'beforeSend'> = {
    client: options.client,
    sealer: options.sealer,
    resolver: options.resolver,
    config,
    log,
    clock,
    random: options.random ?? Math.random,
    events: options.events,
    signal: abort.signal,
    onAnswer: record,
    async lastVersion(vault, name) {
      return (await store.getName(vault, name, clock()))?.delivered?.rwxVersion ?? null
    },
  }
  /** When a 200 without set_secrets was last reported (once an interval: it may be every answer). */
  let bareReportedAt = Number.NEGATIVE_INFINITY

  function record(result: SetSecretsResult, vault: string): void {
    missingVaults.record(result, vault, clock())
    rateLimit.record(result, clock())
    if (result.kind === 'unconfirmed' && clock() - bareReportedAt >= config.authRetrySeconds * 1000) {
      bareReportedAt = clock()
      log.warn(
        { status: result.status, vault },
        'RWX answered 200 without set_secrets (a proxy, a stub or a changed API in the way?): each secret is read back, and sent again only when RWX does not hold a newer version than the relay last delivered',
      )
    }
    const change = breaker.record(result, clock())
    if (change === 'opened') {
      log.error(
        { reason: result.kind === 'ok' ? undefined : result.reason },
        'RWX keeps failing: circuit breaker open, sending one probe at a time',
      )
    } else if (change === 'closed') {
      log.info('RWX answers again: circuit breaker closed, delivering at full speed')
    }
    if (result.kind === 'ok') {
      state.authFailing = false
      state.lastSuccessAt = clock()
      return
    }
    if (result.kind === 'auth' && !state.authFailing)
      log.error({ status: result.status }, 'RWX refuses the token')
    state.authFailing = result.kind === 'auth'
    state.lastError = result.reason
  }

  /** Waits `ms`, or less when stopping (and, if `byNotify`, when notified). */
  function sleep(ms: number, byNotify: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      wake = { done, byNotify }
    })
  }

  async function waitForWork(idle: boolean): Promise<void> {
    if (!notified) {
      const due = await store.nextDueAt()
      const now = clock()
      // After an empty claim, due work is leased elsewhere: look again at the next poll.
      const delay = due === null ? pollMs : due <= now ? (idle ? pollMs : 0) : Math.min(pollMs, due - now)
      if (delay > 0 && !notified && !stopping) await sleep(delay, true)
    }
    notified = false
  }

  /** Why nothing may be sent now: paused (re-read within its bound), or waiting for a probe; else null. */
  async function holdReason(): Promise<'paused' | 'breaker' | 'rate-limited' | null> {
    const { paused, reason } = await pauseSwitch.current()
    if (paused !== wasPaused) {
      wasPaused = paused
      if (paused) log.warn({ reason }, 'delivery paused: nothing is sent to RWX until resumed')
      else log.info('delivery resumed')
    }
    if (paused) return 'paused'
    if (rateLimit.waitMs(clock()) > 0) return 'rate-limited'
    return breaker.waitMs(clock()) > 0 ? 'breaker' : null
  }

  /** Waits while paused (a local resume wakes it), until a 429's Retry-After ends, or the next probe. */
  async function hold(): Promise<void> {
    if (pauseSwitch.known().paused) return sleep(pollMs, true)
    const now = clock()
    const wait = Math.max(rateLimit.waitMs(now), breaker.waitMs(now))
    await sleep(Math.min(pollMs, Math.max(wait, 1)), false)
  }

  /**
   * Adaptive batching: work signalled while the worker was idle goes at once (nobody to wait for); work
   * signalled while a round was out waits until `batchWindowMs` after the first such signal, gathering
   * what else comes meanwhile, so a busy worker still sends full requests.
   */
  async function batchWindow(): Promise<void> {
    const since = pendingSince
    pendingSince = undefined
    if (since === undefined || config.batchWindowMs <= 0) return
    const wait = since + config.batchWindowMs - clock()
    if (wait > 0 && !stopping) await sleep(wait, false)
  }

  async function loop(): Promise<void> {
    let idle = false
    while (!stopping) {
      try {
        const held = await holdReason()
        if (held !== null) {
          options.events?.onHold?.(held)
          await hold()
          continue
        }
        await waitForWork(idle)
        if (stopping) break
        await batchWindow()
        idle = true
        while (!stopping && (await holdReason()) === null) {
          const limit = breaker.claimLimit(config.batchSize * config.concurrency)
          const claimedAt = clock()
          const claimed = await store.claim({ owner, now: claimedAt, leaseMs: leaseMs(config), limit })
          if (claimed.length === 0) break
          idle = false
          sending = true
          try {
            await deliverRound(claimed, claimedAt)
          } finally {
            sending = false
          }
          // A short claim took all that was due: what came meanwhile waits for its batch window.
          if (claimed.length < limit) break
        }
      } catch (err) {
        log.error({ err: errorFields(err) }, 'delivery round failed; trying again shortly')
        if (!stopping) await sleep(pollMs, false)
      }
    }
  }

  async function deliverRound(claimed: Claimed[], claimedAt: number): Promise<void> {
    const { batches, held } = planBatches(claimed, config.batchSize)
    if (held.length > 0) {
      const now = clock()
      const error = 'another value for this name is being delivered'
      await settle(
        held,
        held.map((c) => ({ id: c.id, kind: 'retry', at: now, error, countAttempt: false })),
      )
    }
    // Renewed until the round is settled: however long RWX takes, no other replica takes its names over.
    const deps = { store, owner, clock, log, leaseMs: leaseMs(config) }
    const leases = startHeartbeat(deps, batches.flat(), claimedAt, abort.signal)
    try {
      await sendBatches(batches, leases)
    } finally {
      leases.stop()
    }
  }

  async function sendBatches(batches: Claimed[][], leases: RoundLeases): Promise<void> {
    let next = 0
    const sent: Claimed[] = []
    const outcomes: Outcome[] = []
    const attempts: Attempt[] = []
    // A pause (re-read within its bound before each request), or the breaker opening, stops the batches
    // not started yet. While open, a round is the probe: its one batch goes.
    const allowed = async () =>
      !stopping &&
      !leases.lost &&
      !(await pauseSwitch.current()).paused &&
      rateLimit.waitMs(clock()) === 0 &&
      (!breaker.isOpen() || next === 0)
    const lanes = Array.from({ length: Math.min(config.concurrency, batches.length) }, async () => {
      // Batches not started when stopping stay leased until stop() releases them.
      while (next < batches.length && (await allowed()) && next < batches.length) {
        const batch = batches[next++]!
        sent.push(...batch)
        const done = await runBatch(batch, leases)
        outcomes.push(...done.outcomes)
        attempts.push(...done.attempts)
      }
    })
    await Promise.all(lanes)
    if (!stopping) {
      // Given back due now without using an attempt: they go once the pause ends or a probe succeeds.
      const now = clock()
      const limitedUntil = pauseSwitch.known().paused ? undefined : rateLimit.until(now)
      const error = leases.lost
        ? 'the delivery leases could not be renewed'
        : pauseSwitch.known().paused
          ? 'delivery paused'
          : limitedUntil !== undefined
            ? 'RWX asked to wait (429): held back until its Retry-After'
            : 'RWX is failing: waiting for a probe'
      const at = limitedUntil ?? now
      for (const c of batches.slice(next).flat()) {
        sent.push(c)
        outcomes.push({ id: c.id, kind: 'retry', at, error, countAttempt: false })
      }
    }
    // No renewal races the settle that gives the leases back (it would find them gone, as if taken).
    leases.stop()
    // One transaction (and one WAL checkpoint) for the round's requests, not one per request.
    await settle(sent, outcomes, attempts)
  }

  async function runBatch(batch: Claimed[], leases: RoundLeases): Promise<BatchResult> {
    try {
      const round = { ...ctx, signal: leases.signal, beforeSend: leases.sending }
      return await deliverBatch(round, batch[0]!.vault, batch)
    } catch (err) {
      log.error({ err: errorFields(err), vault: batch[0]!.vault }, 'delivering a batch failed')
      const now = clock()
      const outcomes = batch.map((c) => countedRetry(ctx, c, now, 'internal error while delivering'))
      return { outcomes, attempts: attemptsOf(outcomes, outcomes.length, null, now) }
    }
  }

  function settle(items: Claimed[], outcomes: Outcome[], tried: Attempt[] = []): Promise<void> {
    return settleRound(
      { store, owner, config, clock, log, events: options.events, random: ctx.random },
      items,
      outcomes,
      tried,
    )
  }

  return {
    start() {
      if (running || stopping) return
      running = loop()
    },
    notify() {
      notified = true
      if (sending) pendingSince ??= clock()
      if (wake?.byNotify) wake.done()
    },
    stop(stopOptions = {}) {
      stopped ??= (async () => {
        stopping = true
        wake?.done()
        // In-flight requests end by their own timeout, or sooner when the caller's grace is shorter.
        const abortAfterMs = Math.max(
          0,
          Math.min(config.requestTimeoutMs, stopOptions.abortAfterMs ?? Infinity),
        )
        const timer = setTimeout(() => abort.abort(), abortAfterMs)
        try {
          await running
        } finally {
          clearTimeout(timer)
        }
        try {
          await store.release(owner)
        } catch (err) {
          log.warn({ err: errorFields(err) }, 'could not release leases; they expire on their own')
        }
      })()
      return stopped
    },
    status() {
      const rateLimitedUntil = rateLimit.until(clock())
      return {
        ...state,
        paused: pauseSwitch.known().paused,
        breaker: breaker.status(),
        ...(rateLimitedUntil === undefined ? {} : { rateLimitedUntil }),
        missingVaultCount: missingVaults.count(),
        missingVaults: missingVaults.listed(),
      }
    },
  }
}

/**
 * How long a claim (and each renewal: the round's heartbeat renews every third of it) holds its names.
 * Short, so that the names a dead replica had claimed but not started sending are taken over within
 * seconds; a name it was sending is fenced by the claim that takes it over (PostgreSQL) or by the next
 * start (SQLite), for `uncertainWriteSeconds`, as its request may still land.
 */
function leaseMs(config: Pick<DeliveryConfig, 'leaseSeconds'>): number {
  return config.leaseSeconds * 1000
}
