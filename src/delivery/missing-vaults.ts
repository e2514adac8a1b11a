// Vaults RWX answered 404 for: one warning per vault per interval, a bounded set, the first ones listed.
import type { SetSecretsResult } from './rwx-client.js'
import { MAX_MISSING_VAULTS } from './types.js'

/**
 * The most missing vaults remembered at once. Vault names may come from templates (a payload), so a
 * stream of unknown names must not grow memory: past it the longest-known vault is forgotten (it comes
 * back, warned about again, at its next 404).
 */
export const MAX_TRACKED_MISSING_VAULTS = 1_000

/** The vaults RWX has no record of, as the worker's status shows them. */
export interface MissingVaults {
  /** Takes RWX's answer for a request to `vault`: a 404 adds it (warned about once an interval), a 200 drops it. */
  record(result: SetSecretsResult, vault: string, now: number): void
  /** How many are known now (at most MAX_TRACKED_MISSING_VAULTS). */
  count(): number
  /** The first MAX_MISSING_VAULTS, with when each was first seen, without copying the set (read per /readyz). */
  listed(): { vault: string; since: number }[]
}

export interface MissingVaultsOptions {
  /** One warning per vault per this many ms (the retry interval of its secrets). */
  intervalMs: number
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }
  /** Default MAX_TRACKED_MISSING_VAULTS (tests). */
  max?: number
}

/**
 * A missing vault is an operator's mistake that only a person can fix: one warning per vault per retry
 * interval names it (not one per secret, nor per request), until RWX takes a write for it again.
 */
export function createMissingVaults(options: MissingVaultsOptions): MissingVaults {
  const { intervalMs, log } = options
  const max = options.max ?? MAX_TRACKED_MISSING_VAULTS
  /** Since when, and when that was last logged; in the order first seen. */
  const vaults = new Map<string, { since: number; warnedAt: number }>()
  return {
    record(result, vault, now) {
      if (result.kind === 'ok') {
        if (vaults.delete(vault)) log.info({ vault }, 'RWX knows the vault now: delivering its secrets')
        return
      }
      if (result.kind !== 'missing-vault') return
      const seen = vaults.get(vault)
      if (seen !== undefined && now - seen.warnedAt < intervalMs) return
      if (seen === undefined && vaults.size >= max) vaults.delete(vaults.keys().next().value!)
      vaults.set(vault, { since: seen?.since ?? now, warnedAt: now })
      log.warn(
        { vault, status: result.status, retryInSeconds: intervalMs / 1000 },
        'RWX has no such vault (404): create it in RWX (or fix the vault name); its secrets stay queued and are retried',
      )
    },
    count: () => vaults.size,
    listed() {
      const listed: { vault: string; since: number }[] = []
      for (const [vault, { since }] of vaults) {
        if (listed.length >= MAX_MISSING_VAULTS) break
        listed.push({ vault, since })
      }
      return listed
    },
  }
}
