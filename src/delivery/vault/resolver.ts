// Resolves `vaultKv` and `vaultDatabase` references (HashiCorp Vault, OpenBao): values at delivery, versions for sweeps.
import { isVaultRef, type ValueRef, type VaultConfig } from '../../config/schema.js'
import type { ProxyConfig } from '../../http/outbound.js'
import {
  type CurrentVersion,
  currentFailure,
  type Failure,
  isOutsideFix,
  type Listed,
  type ListRequest,
  type ReferenceResolver,
} from '../values.js'
import { createVaultAuth, type VaultLog } from './auth.js'
import { createVaultClient } from './client.js'
import { currentDatabase, resolveDatabase } from './database.js'
import { VaultError } from './errors.js'
import { type SubscribeOptions, type Subscription, subscribeKvWrites } from './events.js'
import { createVaultHttp, type VaultHttp } from './http.js'
import { currentKv, listKv, resolveKv } from './kv.js'

/** The resolver, with what the reconciliation sweep also needs. */
export interface VaultResolver extends ReferenceResolver {
  current(ref: ValueRef): Promise<CurrentVersion>
  /** The KV v2 secret paths under `prefix` of `mount` (LIST, folders followed), for a sweep to expand. */
  listPaths(mount: string, prefix: string): Promise<{ kind: 'paths'; paths: string[] } | Failure>
  list(where: ListRequest): Promise<Listed>
  /** Vault Enterprise: KV writes pushed over a WebSocket, with this resolver's login (closed with it). */
  subscribeKvWrites(options: SubscribeOptions): Subscription
  close(): void
}

export interface VaultResolverOptions {
  config: VaultConfig
  proxy?: ProxyConfig
  log: VaultLog
  /** Epoch ms (token leases, deletion times). */
  clock?: () => number
  /** The transport (tests); made from `config` and `proxy` when not given. */
  http?: VaultHttp
}

/** Runs `work`, turning a thrown VaultError (no answer, no token) into its failure. */
async function guarded<T>(work: () => Promise<T>): Promise<T | Failure> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof VaultError) return err.failure
    throw err
  }
}

/** Creates the resolver the delivery worker calls for Vault and OpenBao references. */
export function createVaultResolver(options: VaultResolverOptions): VaultResolver {
  const clock = options.clock ?? Date.now
  const http = options.http ?? createVaultHttp(options.config, options.proxy)
  const auth = createVaultAuth(options.config.auth, http, options.log, clock)
  const client = createVaultClient(http, auth)
  const subscriptions = new Set<Subscription>()

  const noted = <T extends { kind: string; error?: string; countAttempt?: boolean }>(result: T): T => {
    if (isOutsideFix(result)) options.log.warn({ reason: result.error }, 'Vault permission or login problem')
    return result
  }

  const listPaths = async (mount: string, prefix: string) =>
    noted(await guarded(() => listKv(client, mount, prefix)))

  return {
    async resolve(ref) {
      if (!isVaultRef(ref)) return { kind: 'dead', error: 'not a Vault reference' }
      const result = await guarded(() =>
        ref.engine === 'kv' ? resolveKv(client, ref, clock()) : resolveDatabase(client, ref),
      )
      return noted(result)
    },
    async current(ref) {
      if (!isVaultRef(ref)) return { kind: 'missing', error: 'not a Vault reference' }
      const result = await guarded(() =>
        ref.engine === 'kv' ? currentKv(client, ref, clock()) : currentDatabase(client, ref),
      )
      return result.kind === 'dead' || result.kind === 'retry' ? currentFailure(noted(result)) : result
    },
    listPaths,
    async list(where) {
      return listPaths(where.mount, where.prefix)
    },
    subscribeKvWrites(subscribe) {
      const subscription = subscribeKvWrites(http, auth, options.log, subscribe)
      subscriptions.add(subscription)
      return subscription
    },
    close() {
      for (const s of subscriptions) s.close()
      void http.close()
    },
  }
}
