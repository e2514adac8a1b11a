// The vaults RWX has no record of: warned about once an interval, listed first-seen first, bounded in number.
import { describe, expect, it } from 'vitest'
import { createMissingVaults } from '../../src/delivery/missing-vaults.js'
import type { SetSecretsResult } from '../../src/delivery/rwx-client.js'
import { MAX_MISSING_VAULTS } from '../../src/delivery/types.js'

const missing: SetSecretsResult = { kind: 'missing-vault', status: 404, reason: 'RWX answered 404' }
const ok: SetSecretsResult = { kind: 'ok', set: new Set(), versions: new Map() }

function logged() {
  const lines: { level: string; vault: unknown }[] = []
  const at = (level: string) => (obj: object) =>
    void lines.push({ level, vault: (obj as { vault?: unknown }).vault })
  return { info: at('info'), warn: at('warn'), lines }
}

describe('missing vaults', () => {
  it('warns once an interval per vault, keeps its first sighting, and forgets it at its next 200', () => {
    const log = logged()
    const vaults = createMissingVaults({ intervalMs: 1_000, log })
    vaults.record(missing, 'payments', 100)
    vaults.record(missing, 'payments', 600)
    expect(log.lines).toEqual([{ level: 'warn', vault: 'payments' }])
    vaults.record(missing, 'payments', 1_100)
    expect(log.lines).toHaveLength(2)
    expect(vaults.listed()).toEqual([{ vault: 'payments', since: 100 }])
    vaults.record({ kind: 'retry', status: 503, reason: 'down' }, 'payments', 1_200)
    expect(vaults.count()).toBe(1)
    vaults.record(ok, 'payments', 1_300)
    expect(vaults.count()).toBe(0)
    expect(vaults.listed()).toEqual([])
    expect(log.lines.at(-1)).toEqual({ level: 'info', vault: 'payments' })
  })

  it('lists the first MAX_MISSING_VAULTS and counts past them, up to its bound, forgetting the oldest', () => {
    const vaults = createMissingVaults({ intervalMs: 1_000, log: logged(), max: 30 })
    for (let i = 0; i < 25; i++) vaults.record(missing, `v${i}`, i)
    expect(vaults.count()).toBe(25)
    expect(vaults.listed().map((m) => m.vault)).toEqual(
      Array.from({ length: MAX_MISSING_VAULTS }, (_, i) => `v${i}`),
    )
    for (let i = 25; i < 40; i++) vaults.record(missing, `v${i}`, i)
    expect(vaults.count()).toBe(30)
    expect(vaults.listed()[0]).toEqual({ vault: 'v10', since: 10 })
    // A known vault seen again neither grows the set nor pushes another out.
    vaults.record(missing, 'v39', 5_000)
    expect(vaults.count()).toBe(30)
    expect(vaults.listed()[0]!.vault).toBe('v10')
  })
})
