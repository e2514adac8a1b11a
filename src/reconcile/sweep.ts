// One look at a source's declared secrets: read each current version (metadata only), queue what is newer
// than the relay's, and read RWX back to find drift (written again with `repair`).
import type { Logger } from 'pino'
import { storeOf, type ValueRef } from '../config/schema.js'
import type { RwxClient } from '../delivery/rwx-client.js'
import type { ReferenceResolver } from '../delivery/values.js'
import type { InventoryFacts, ReconcileMark, Store } from '../queue/store.js'
import type { DeclaredSecret } from './declared.js'
import { inLanes, type Pace, readPaced } from './pace.js'
import { knownVersion, olderVersion, refVersion } from './state.js'
import type { ReconcileEvents, SweepOutcome } from './types.js'

/** What a sweep uses; never holds a value (it reads metadata and queues references). */
export interface SweepDeps {
  store: Store
  resolver: ReferenceResolver
  rwx: Pick<RwxClient, 'getSecret'>
  /** The pace of each value store's API (by store kind), shared by every sweep of the process. */
  paceOf(store: string): Pace
  clock: () => number
  log: Logger
  events?: ReconcileEvents | undefined
  /** Called after a secret was queued, so the worker looks at once. */
  onQueued?: () => void
  signal?: AbortSignal
}

/** How to sweep: `reconcile` (the timer), `resync` (asked for), `force` (queue the current version anyway). */
export interface SweepOptions {
  trigger: 'reconcile' | 'resync'
  force: boolean
  repair: boolean
  concurrency: number
}

/** What a sweep found and did for one declared secret. Never a value. */
export interface SecretSweep {
  source: string
  vault: string
  name: string
  outcome: SweepOutcome
  /** The source version found current; null when it could not be read. */
  version: string | null
  error?: string
}

/** Sweeps `secrets` (of one source) once; resolves when each is read, queued or recorded as failed. */
export async function sweepSecrets(
  deps: SweepDeps,
  secrets: readonly DeclaredSecret[],
  options: SweepOptions,
): Promise<SecretSweep[]> {
  return inLanes(secrets, options.concurrency, (d) => sweepOne(deps, d, options))
}

async function sweepOne(deps: SweepDeps, d: DeclaredSecret, options: SweepOptions): Promise<SecretSweep> {
  const { store, log } = deps
  const base = { source: d.source, vault: d.vault, name: d.name }
  const [facts] = await store.inventory({ vault: d.vault, name: d.name, limit: 1 })
  const previous = facts?.reconcile ?? null
  const now = deps.clock()
  const current = await readPaced(
    deps.paceOf(storeOf(d.ref)),
    () => deps.resolver.current!(d.ref),
    deps.signal,
  )
  const mark: ReconcileMark = {
    vault: d.vault,
    name: d.name,
    source: d.source,
    sourceVersion: previous?.sourceVersion ?? null,
    checkedAt: now,
    outcome: null,
    error: null,
    rwxVersion: null,
  }
  if (current.kind !== 'version') {
    const outcome: SweepOutcome = current.kind === 'missing' ? 'missing' : 'failed'
    log.warn({ ...base, outcome, reason: current.error }, 'reconcile: cannot read the current version')
    await store.recordReconcile([{ ...mark, outcome, error: current.error }])
    return { ...base, outcome, version: null, error: current.error }
  }
  const version = current.version
  const known = knownVersion(facts)
  const latest = facts?.latest
  // A queued reference without a version (a webhook without one, AWS RotationSucceeded) fetches the
  // current version at delivery: it is this one, and queuing it again would write it twice.
  if (
    !options.force &&
    latest?.status === 'queued' &&
    latest.ref !== null &&
    refVersion(latest.ref) === null
  ) {
    await store.recordReconcile([{ ...mark, sourceVersion: version, outcome: 'queued' }])
    return { ...base, outcome: 'queued', version }
  }
  // An older version than the relay knows is a stale read (a lagging standby or replica): queuing it
  // would only be fenced at delivery; the next sweep reads again.
  if (!options.force && known !== null && olderVersion(current.ref, version, known)) {
    const error = `the store answered version ${version}, older than ${known} the relay knows (a lagging replica?)`
    log.warn({ ...base, version, known }, 'reconcile: the store answered an older version, left alone')
    await store.recordReconcile([{ ...mark, sourceVersion: known, outcome: 'failed', error }])
    return { ...base, outcome: 'failed', version, error }
  }
  if (options.force || known !== version) {
    const eventId = options.force
      ? `resync:${d.vault}/${d.name}:${version}:${now}`
      : `reconcile:${d.vault}/${d.name}:${version}`
    const result = await queueRef(deps, d, current.ref, eventId, now, options.trigger)
    log.info(
      { ...base, version, known, eventId, queued: result.queued, duplicate: result.duplicate },
      options.force
        ? 'resync: queued the current version'
        : 'reconcile: the source is newer, queued its version',
    )
    await store.recordReconcile([{ ...mark, sourceVersion: version, outcome: 'queued' }])
    return { ...base, outcome: 'queued', version }
  }
  const drift = await readDrift(deps, d, facts)
  mark.sourceVersion = version
  if (drift === null || drift.kind === 'same') {
    await store.recordReconcile([
      { ...mark, outcome: 'in-sync', rwxVersion: drift?.kind === 'same' ? drift.rwxVersion : null },
    ])
    return { ...base, outcome: 'in-sync', version }
  }
  if (drift.kind === 'error') {
    await store.recordReconcile([{ ...mark, outcome: 'in-sync', error: drift.error }])
    return { ...base, outcome: 'in-sync', version, error: drift.error }
  }
  const written = facts?.written?.version ?? null
  const repeated = previous?.outcome === 'drift' && previous.rwxVersion === drift.rwxVersion
  if (!repeated) {
    log.warn(
      { ...base, written, readBack: drift.rwxVersion, repair: options.repair },
      'reconcile: RWX holds another version than the relay wrote (drift)',
    )
    deps.events?.onSignal?.({
      kind: 'drift',
      ...base,
      eventId: facts?.latest?.eventId ?? null,
      at: now,
      detail:
        drift.rwxVersion === null
          ? 'RWX holds no such secret'
          : `RWX holds version ${drift.rwxVersion}, the relay wrote ${written ?? 'an unknown version'}`,
      written,
      readBack: drift.rwxVersion,
    })
  }
  await store.recordReconcile([{ ...mark, outcome: 'drift', rwxVersion: drift.rwxVersion }])
  if (!options.repair) return { ...base, outcome: 'drift', version }
  const repairId = `repair:${d.vault}/${d.name}:${version}:${drift.rwxVersion ?? 'none'}`
  await queueRef(deps, d, current.ref, repairId, now, options.trigger)
  return { ...base, outcome: 'repair', version }
}

/** Queues the declared secret's reference (fetched at delivery) as event `eventId`; wakes the worker if queued. */
async function queueRef(
  deps: SweepDeps,
  d: DeclaredSecret,
  ref: ValueRef,
  eventId: string,
  now: number,
  trigger: SweepOptions['trigger'],
): Promise<Awaited<ReturnType<Store['enqueue']>>> {
  const result = await deps.store.enqueue({
    source: d.source,
    eventId,
    eventTime: now,
    receivedAt: now,
    secrets: [
      { vault: d.vault, name: d.name, description: d.description, sealed: null, ref, fingerprint: null },
    ],
    provenance: { verifier: trigger, keyId: null, rules: [d.path] },
  })
  if (result.queued > 0) deps.onQueued?.()
  return result
}

/** What reading RWX's version back found, against the version the relay wrote. */
type DriftRead =
  | { kind: 'same'; rwxVersion: number | null }
  /** RWX holds another version (null: none at all). */
  | { kind: 'drift'; rwxVersion: number | null }
  | { kind: 'error'; error: string }

/** RWX's version against the one the relay wrote; null when nothing was delivered to compare with. */
async function readDrift(
  deps: SweepDeps,
  d: DeclaredSecret,
  facts: InventoryFacts | undefined,
): Promise<DriftRead | null> {
  const latest = facts?.latest
  const written = facts?.written
  // Only a name whose newest value is in RWX: a value on its way will change RWX's version anyway.
  if (written == null || latest?.status === 'queued' || latest?.status === 'dead') return null
  const got = await deps.rwx.getSecret(d.vault, d.name, deps.signal ? { signal: deps.signal } : {})
  if (got.kind === 'failed') return { kind: 'error', error: `reading RWX failed: ${got.reason}` }
  if (got.kind === 'missing') return { kind: 'drift', rwxVersion: null }
  if (got.version === null || written.version === null || got.version === written.version) {
    return { kind: 'same', rwxVersion: got.version }
  }
  return { kind: 'drift', rwxVersion: got.version }
}
