// Verify after write (`delivery.verify`): read each delivered secret's metadata back and compare versions.
import type { Attempt } from '../queue/store.js'
import type { BatchContext } from './types.js'

/** One secret RWX confirmed, with the version it said it wrote. */
export interface Written {
  secretId: number
  name: string
  version: number | null
}

/** How many reads of one batch are in flight at once. */
const READS_AT_ONCE = 4

/**
 * Reads back every secret of `written` in `vault` and returns one attempt each: `read-back` (RWX holds
 * the version written, or a newer one), `outside-change` (an older version, or no secret at all: someone
 * else changed it behind the relay), or `read-back-failed` (nothing learned; the delivery stands).
 */
export async function readBack(ctx: BatchContext, vault: string, written: Written[]): Promise<Attempt[]> {
  const out: Attempt[] = new Array(written.length)
  let next = 0
  const lanes = Array.from({ length: Math.min(READS_AT_ONCE, written.length) }, async () => {
    while (next < written.length) {
      const i = next++
      out[i] = await readOne(ctx, vault, written[i]!)
    }
  })
  await Promise.all(lanes)
  return out
}

async function readOne(ctx: BatchContext, vault: string, w: Written): Promise<Attempt> {
  const got = await ctx.client.getSecret(vault, w.name, { signal: ctx.signal })
  const at = ctx.clock()
  const base = { secretId: w.secretId, at, error: null }
  if (got.kind === 'failed') {
    ctx.log.warn({ vault, name: w.name, reason: got.reason }, 'reading the secret back from RWX failed')
    return {
      ...base,
      outcome: 'read-back-failed',
      status: got.status ? String(got.status) : 'error',
      version: null,
      error: got.reason,
    }
  }
  const version = got.kind === 'found' ? got.version : null
  const lower = got.kind === 'found' && version !== null && w.version !== null && version < w.version
  if (got.kind === 'missing' || lower) {
    const kind = got.kind === 'missing' ? 'missing' : 'older'
    ctx.log.warn(
      { vault, name: w.name, written: w.version, readBack: version, change: kind },
      'RWX holds an older version than the relay wrote, or none: changed outside the relay',
    )
    ctx.events?.onOutsideChange?.(kind)
    return { ...base, outcome: 'outside-change', status: got.kind === 'missing' ? '404' : '200', version }
  }
  return { ...base, outcome: 'read-back', status: '200', version }
}
