// Vault Enterprise KV write events as a push trigger: a write to a declared secret resyncs its source at once.
import type { Logger } from 'pino'
import { isVaultRef, type SourceConfig, type ValueRef, type VaultKvRef } from '../config/schema.js'
import type { Reconciler } from './reconciler.js'

/** What the trigger needs of a Vault KV write event (the secret, never its value). */
export interface KvWriteEvent {
  mount: string
  path: string
  version: number
}

/** Subscribes to KV writes (the Vault resolver's `subscribeKvWrites`). */
export type SubscribeKvWrites = (options: { onWrite(write: KvWriteEvent): void }) => { close(): void }

/** A running trigger; `close()` ends the subscription and waits for the resyncs it started. */
export interface VaultEventTrigger {
  close(): Promise<void>
}

/** What one write asks of the reconciler: the sources to resync, with their names or all (prefixes). */
export interface WriteTarget {
  source: string
  /** The declared secrets read from that KV secret; undefined: the whole source (a path under a prefix). */
  names?: { vault: string; name: string }[]
}

const isKv = (ref: ValueRef): ref is VaultKvRef => isVaultRef(ref) && ref.engine === 'kv'

/** Whether any reconciling source reads Vault KV secrets (listed, or under a prefix). */
export function declaresVaultKv(
  reconciler: Pick<Reconciler, 'declared'>,
  sources: readonly SourceConfig[],
): boolean {
  return (
    reconciler.declared.some((d) => isKv(d.ref)) ||
    sources.some((s) => (s.reconcile?.vaultPrefixes.length ?? 0) > 0)
  )
}

/**
 * The resyncs a write calls for: per source, the declared secrets read from that mount and path, or the
 * whole source when the path lies under one of its prefixes (a new secret there is found by listing).
 */
export function targetsOf(
  write: KvWriteEvent,
  reconciler: Pick<Reconciler, 'declared'>,
  sources: readonly SourceConfig[],
): WriteTarget[] {
  const whole = new Set<string>()
  for (const s of sources) {
    const under = s.reconcile?.vaultPrefixes.some(
      (p) => p.mount === write.mount && write.path.startsWith(p.prefix),
    )
    if (under === true) whole.add(s.id)
  }
  const named = new Map<string, { vault: string; name: string }[]>()
  for (const d of reconciler.declared) {
    if (whole.has(d.source) || !isKv(d.ref) || d.ref.mount !== write.mount || d.ref.path !== write.path)
      continue
    const list = named.get(d.source) ?? []
    list.push({ vault: d.vault, name: d.name })
    named.set(d.source, list)
  }
  return [
    ...[...whole].map((source) => ({ source })),
    ...[...named].map(([source, names]) => ({ source, names })),
  ]
}

/**
 * Subscribes once and, for each write to a declared secret, resyncs its source (one resync at a time, in
 * order), so the new version is queued now instead of at the next sweep. Logs the mount, path and version only.
 */
export function startVaultEventTrigger(deps: {
  subscribe: SubscribeKvWrites
  reconciler: Pick<Reconciler, 'declared' | 'resync'>
  sources: readonly SourceConfig[]
  log: Logger
}): VaultEventTrigger {
  const { log } = deps
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  const subscription = deps.subscribe({
    onWrite(write) {
      if (closed) return
      const targets = targetsOf(write, deps.reconciler, deps.sources)
      const at = { mount: write.mount, path: write.path, version: write.version }
      if (targets.length === 0) return log.debug({ ...at }, 'Vault event: no reconciled secret there')
      for (const target of targets) {
        chain = chain.then(async () => {
          if (closed) return
          try {
            const result = await deps.reconciler.resync(target)
            log.info(
              { ...at, source: target.source, secrets: result.secrets.length },
              'Vault event: resynced the source',
            )
          } catch (err) {
            log.warn(
              { ...at, source: target.source, err: (err as Error).message },
              'Vault event: resync failed',
            )
          }
        })
      }
    },
  })
  log.info(
    { sources: deps.sources.filter((s) => s.reconcile !== undefined).map((s) => s.id) },
    'Vault events: push trigger on',
  )
  return {
    async close() {
      closed = true
      subscription.close()
      await chain
    },
  }
}
