// Where a queued secret's value comes from at delivery: the sealed copy, or a reference resolved then.
import { storeOf, type ValueRef, type ValueStoreKind } from '../config/schema.js'

/** What resolving a reference gave: the value, or why not now, or why never. */
export type Resolved =
  | { kind: 'value'; value: string }
  /**
   * Try again later. `countAttempt: false` for failures a fix outside the relay ends (AWS credentials),
   * which like RWX auth failures must not use up attempts or age and lose the secret.
   */
  | { kind: 'retry'; error: string; afterMs?: number; countAttempt?: boolean }
  | { kind: 'dead'; error: string }
  /** The reference names a version that is no longer the one to write (a newer one is current). */
  | { kind: 'superseded'; error: string }

/** A resolver's failure: why not now, or why never. */
export type Failure = Extract<Resolved, { kind: 'retry' | 'dead' }>

/**
 * How long a failure waits that only a fix outside the relay ends (credentials, a policy, a role): the
 * retries use up no attempts or age, so such a fix never loses a secret.
 */
export const OUTSIDE_FIX_RETRY_MS = 60_000

/** A retry that a fix outside the relay ends (credentials, a policy, a role): uncounted, every minute. */
export function outsideFix(error: string): Failure {
  return { kind: 'retry', error, afterMs: OUTSIDE_FIX_RETRY_MS, countAttempt: false }
}

/** Whether `result` waits for a fix outside the relay (the resolvers warn of those). */
export function isOutsideFix(result: { kind: string; countAttempt?: boolean }): boolean {
  return result.kind === 'retry' && result.countAttempt === false
}

/** A failed read as `current()` answers it: a dead one means the secret or its version is missing. */
export function currentFailure(failure: Failure): CurrentVersion {
  if (failure.kind === 'dead') return { kind: 'missing', error: failure.error }
  return {
    kind: 'retry',
    error: failure.error,
    ...(failure.afterMs === undefined ? {} : { afterMs: failure.afterMs }),
  }
}

/**
 * What a store says of a reference's current version, from metadata only (never the value): for the
 * reconciliation sweep. `ref` is the reference pinned to that version (what a webhook for it would
 * queue); `version` is the store's own id, `createdAt` (epoch ms) orders versions where ids do not.
 */
export type CurrentVersion =
  | { kind: 'version'; ref: ValueRef; version: string; createdAt?: number }
  /** The secret, or a current version of it, does not exist (deleted, no version marked current). */
  | { kind: 'missing'; error: string }
  | { kind: 'retry'; error: string; afterMs?: number }

/** A folder of a store to list (Vault/OpenBao KV v2 today): every secret path under `prefix`. */
export interface ListRequest {
  store: 'vault'
  mount: string
  prefix: string
}

/** What listing a folder gave: the secret paths (full, sorted), or why not now, or why never. */
export type Listed = { kind: 'paths'; paths: string[] } | Failure

/** Fetches values that never rest in the queue (AWS Secrets Manager, and each other value store). */
export interface ReferenceResolver {
  resolve(ref: ValueRef): Promise<Resolved>
  /** Reads which version of `ref` is current, metadata only (stores that can be reconciled). */
  current?(ref: ValueRef): Promise<CurrentVersion>
  /** Lists the secret paths under a folder (stores whose secrets a sweep may discover). */
  list?(where: ListRequest): Promise<Listed>
  /** Releases clients and sockets. */
  close?(): void
}

/**
 * One resolver over several stores: each reference goes to its store's resolver; a reference to a store
 * this relay has none for is dead (its config no longer fetches from there).
 */
export function combineResolvers(stores: ReadonlyMap<ValueStoreKind, ReferenceResolver>): ReferenceResolver {
  return {
    async resolve(ref) {
      const store = storeOf(ref)
      const resolver = stores.get(store)
      if (resolver === undefined) return { kind: 'dead', error: `no resolver for ${store} references` }
      return resolver.resolve(ref)
    },
    async current(ref) {
      const store = storeOf(ref)
      const resolver = stores.get(store)
      if (resolver?.current === undefined) return { kind: 'missing', error: `${store} cannot be reconciled` }
      return resolver.current(ref)
    },
    async list(where) {
      const resolver = stores.get(where.store)
      if (resolver?.list === undefined) return { kind: 'dead', error: `${where.store} cannot be listed` }
      return resolver.list(where)
    },
    close() {
      for (const resolver of stores.values()) resolver.close?.()
    },
  }
}
