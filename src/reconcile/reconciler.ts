// The reconciliation loop of a relay: each reconciling source swept every `every` ± jitter, one replica at
// a time (the store's sweep lease), its pace kept across restarts (the next due time is stored); and
// resync, the same look asked for now.
import type { Logger } from 'pino'
import type { ReconcileConfig, SourceConfig } from '../config/schema.js'
import type { RwxClient } from '../delivery/rwx-client.js'
import type { ReferenceResolver } from '../delivery/values.js'
import type { Template } from '../mapping/template.js'
import type { Store } from '../queue/store.js'
import { type DeclaredSecret, declaredSecrets } from './declared.js'
import { createPace, type Pace } from './pace.js'
import { compilePrefixNames, expandPrefixes } from './prefixes.js'
import { type SecretSweep, sweepSecrets } from './sweep.js'
import type { ReconcileEvents } from './types.js'

export interface ReconcilerDeps {
  sources: readonly SourceConfig[]
  store: Store
  /** Resolves references and reads current versions; undefined when no source fetches from a store. */
  resolver: ReferenceResolver | undefined
  rwx: Pick<RwxClient, 'getSecret'>
  clock: () => number
  random?: () => number
  log: Logger
  /** This replica, as the sweep lease names it. */
  owner: string
  events?: ReconcileEvents
  onQueued?: () => void
}

/** What `resync` is asked: one source or all, some names or all, and whether to queue even when current. */
export interface ResyncRequest {
  source?: string | undefined
  /** `vault/name` pairs; every declared secret when empty. */
  names?: readonly { vault: string; name: string }[]
  force?: boolean
}

/** What a resync did, per secret, and the names asked for that no source reconciles. */
export interface ResyncResult {
  secrets: SecretSweep[]
  unknown: { vault: string; name: string }[]
}

export interface Reconciler {
  /** Every declared secret of every reconciling source (the inventory's `unknown` names come from here). */
  readonly declared: readonly DeclaredSecret[]
  /** The ids of the reconciling sources. */
  readonly sources: readonly string[]
  start(): void
  /** Stops the timers; a sweep under way ends after its reads in flight. */
  stop(): Promise<void>
  /** Reads the source(s) now and queues what is newer (or, with force, the current version anyway). */
  resync(request: ResyncRequest): Promise<ResyncResult>
}

/** The longest a sweep is expected to run: its lease lasts that, or `every`, whichever is longer. */
const MIN_LEASE_MS = 60_000
/** Replicas that find a sweep not due look again this long after its due time, plus a little at random. */
const LOOK_AGAIN_SPREAD_MS = 1_000

interface Reconciling {
  config: SourceConfig
  reconcile: ReconcileConfig
  /** The static declared secrets and, after them, those of the last listing of the prefixes. */
  secrets: DeclaredSecret[]
  /** The static declared secrets (`reconcile.secrets` or the rules'). */
  fixed: DeclaredSecret[]
  names: Template[]
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const random = deps.random ?? Math.random
  const log = deps.log
  const sources: Reconciling[] = deps.sources.flatMap((config) =>
    config.reconcile === undefined
      ? []
      : [
          {
            config,
            reconcile: config.reconcile,
            secrets: declaredSecrets(config),
            fixed: [],
            names: compilePrefixNames(config),
          },
        ],
  )
  for (const s of sources) s.fixed = s.secrets
  const warned = new Set<string>()
  const paces = new Map<string, Pace>()
  const paceOf = (rate: number) => (store: string) => {
    let pace = paces.get(store)
    if (pace === undefined) {
      pace = createPace(rate, deps.clock)
      paces.set(store, pace)
    }
    return pace
  }
  const stopping = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const running = new Set<Promise<unknown>>()

  const sweepDeps = (s: Reconciling) => ({
    store: deps.store,
    resolver: deps.resolver!,
    rwx: deps.rwx,
    paceOf: paceOf(s.reconcile.ratePerSecond),
    clock: deps.clock,
    log,
    events: deps.events,
    onQueued: deps.onQueued,
    signal: stopping.signal,
  })

  function track<T>(p: Promise<T>): Promise<T> {
    running.add(p)
    void p.finally(() => running.delete(p)).catch(() => {})
    return p
  }

  function later(ms: number, fn: () => void) {
    if (stopping.signal.aborted) return
    const timer = setTimeout(
      () => {
        timers.delete(timer)
        fn()
      },
      Math.max(0, ms),
    )
    timer.unref()
    timers.add(timer)
  }

  /** `every` ± jitter. */
  const interval = (r: ReconcileConfig) => Math.round(r.every * (1 + r.jitter * (2 * random() - 1)))

  /**
   * Lists the source's Vault prefixes again and declares what they hold beside its static secrets; the
   * error when a listing failed (the last expansion is kept, so nothing declared is dropped).
   */
  async function expand(s: Reconciling): Promise<string | undefined> {
    if (s.reconcile.vaultPrefixes.length === 0 || deps.resolver === undefined) return undefined
    const taken = new Set(s.fixed.map((d) => `${d.vault}/${d.name}`))
    const found = await expandPrefixes(s.config, s.names, { resolver: deps.resolver, log, taken, warned })
    if (found.kind === 'failed') {
      log.warn({ source: s.config.id, err: found.error }, 'reconcile: listing a Vault prefix failed')
      return found.error
    }
    s.secrets = [...s.fixed, ...found.secrets]
    return undefined
  }

  async function tick(s: Reconciling): Promise<void> {
    const id = s.config.id
    const now = deps.clock()
    const leaseMs = Math.max(MIN_LEASE_MS, s.reconcile.every)
    let claim: Awaited<ReturnType<Store['claimSweep']>>
    try {
      claim = await deps.store.claimSweep(id, deps.owner, now, leaseMs)
    } catch (err) {
      log.warn(
        { source: id, err: (err as Error).message },
        'reconcile: the store cannot be reached; trying later',
      )
      later(interval(s.reconcile), () => void track(tick(s)))
      return
    }
    if (!claim.claimed) {
      // Another replica sweeps, or swept lately: look again once it is due (or its lease ran out).
      const due = Math.max(claim.state.nextDueAt ?? 0, claim.state.leaseUntil ?? 0)
      const wait = due > now ? due - now : interval(s.reconcile)
      later(wait + random() * LOOK_AGAIN_SPREAD_MS, () => void track(tick(s)))
      return
    }
    let outcome: 'ok' | 'failed' = 'ok'
    try {
      if ((await expand(s)) !== undefined) outcome = 'failed'
      const results = await sweepSecrets(sweepDeps(s), s.secrets, {
        trigger: 'reconcile',
        force: false,
        repair: s.reconcile.repair,
        concurrency: s.reconcile.concurrency,
      })
      if (results.some((r) => r.outcome === 'failed')) outcome = 'failed'
      const counts = new Map<string, number>()
      for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1)
      log.info({ source: id, outcome, ...Object.fromEntries(counts) }, 'reconcile: sweep done')
    } catch (err) {
      outcome = 'failed'
      log.warn({ source: id, err: (err as Error).message }, 'reconcile: sweep failed')
    }
    const end = deps.clock()
    const next = end + interval(s.reconcile)
    deps.events?.onSweep?.(id, outcome, end)
    await deps.store.finishSweep(id, deps.owner, end, outcome, next).catch((err: Error) => {
      log.warn({ source: id, err: err.message }, 'reconcile: could not record the sweep')
    })
    later(next - end, () => void track(tick(s)))
  }

  return {
    get declared() {
      return sources.flatMap((s) => s.secrets)
    },
    sources: sources.map((s) => s.config.id),
    start() {
      if (deps.resolver?.current === undefined) {
        if (sources.length > 0) log.warn('reconcile: no value store can be read; sweeps are off')
        return
      }
      for (const s of sources) later(0, () => void track(tick(s)))
    },
    async stop() {
      stopping.abort()
      for (const t of timers) clearTimeout(t)
      timers.clear()
      await Promise.allSettled([...running])
    },
    async resync(request) {
      const wanted = request.names ?? []
      const picked = sources.filter((s) => request.source === undefined || s.config.id === request.source)
      const found = new Set<string>()
      const secrets: SecretSweep[] = []
      for (const s of picked) {
        if (deps.resolver?.current !== undefined) await expand(s)
        const chosen =
          wanted.length === 0
            ? s.secrets
            : s.secrets.filter((d) => wanted.some((w) => w.vault === d.vault && w.name === d.name))
        for (const d of chosen) found.add(`${d.vault}/${d.name}`)
        if (chosen.length === 0 || deps.resolver?.current === undefined) continue
        secrets.push(
          ...(await sweepSecrets(sweepDeps(s), chosen, {
            trigger: 'resync',
            force: request.force === true,
            repair: s.reconcile.repair,
            concurrency: s.reconcile.concurrency,
          })),
        )
      }
      const unknown = wanted.filter((w) => !found.has(`${w.vault}/${w.name}`)).map((w) => ({ ...w }))
      return { secrets, unknown }
    },
  }
}
