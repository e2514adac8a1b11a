// Verify after write (`delivery.verify`): read each delivered secret's metadata back and compare versions.
import type { Attempt, Claimed, Outcome } from '../queue/store.js'
import type { BatchContext } from './types.js'

/** One secret RWX confirmed, with the version it said it wrote. */
export interface Written {
  secretId: number
  name: string
  version: number | null
  /** The leased secret, when the write is checked after an unknown outcome (`item.unconfirmed`). */
  item?: Claimed
}

/** How many reads of one batch are in flight at once. */
const READS_AT_ONCE = 4

/**
 * Reads back every secret of `written` in `vault` and returns one attempt each: `read-back` (RWX holds
 * the version written, or a newer one), `outside-change` (an older version, or no secret at all: someone
 * else changed it behind the relay), or `read-back-failed` (nothing learned; the delivery stands).
 */
export async function readBack(ctx: BatchContext, vault: string, written: Written[]): Promise<Attempt[]> {
  return inLanes(written, (w) => readOne(ctx, vault, w))
}

/** `fn` over `items`, READS_AT_ONCE at a time, results in the order of `items`. */
async function inLanes<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lanes = Array.from({ length: Math.min(READS_AT_ONCE, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  })
  await Promise.all(lanes)
  return out
}

/**
 * After a 400 whose message names the secrets RWX refused, the others of the request were most likely
 * stored (RWX's batches are not atomic, and its answer lists no stored names): reads each of `taken` back.
 * RWX holds it: delivered, at the version read (one `read-back` attempt). Missing, or the read failed:
 * its retry stands and it is sent again (at least once). Changes `outcomes` in place; returns the attempts.
 * RWX has no compare-and-set: a name it holds from an earlier write would pass for this one, which is
 * why this is done only when RWX names what it refused.
 */
export async function takenDespiteRefusal(
  ctx: BatchContext,
  vault: string,
  taken: readonly { item: Claimed; value: string }[],
  outcomes: Outcome[],
): Promise<Attempt[]> {
  const reads = await inLanes(taken, ({ item }) =>
    ctx.client.getSecret(vault, item.name, { signal: ctx.signal }),
  )
  const attempts: Attempt[] = []
  taken.forEach(({ item, value }, i) => {
    const got = reads[i]!
    const at = outcomes.findIndex((o) => o.id === item.id)
    const current = outcomes[at]
    if (current?.kind !== 'retry') return
    if (got.kind === 'found') {
      outcomes[at] = {
        id: item.id,
        kind: 'delivered',
        version: got.version,
        // As for a 200: a value fetched now (a reference) is first known here.
        ...(item.ref === null ? {} : { fingerprint: ctx.sealer.fingerprint(value) }),
      }
      const read = { secretId: item.id, at: ctx.clock(), outcome: 'read-back', status: '200' }
      attempts.push({ ...read, version: got.version, error: null })
      return
    }
    if (got.kind === 'failed')
      ctx.log.warn({ vault, name: item.name, reason: got.reason }, 'reading the secret back from RWX failed')
    const why = got.kind === 'missing' ? 'RWX does not hold it' : 'reading it back failed'
    current.error = `${current.error}; ${why}: sending it again`
  })
  return attempts
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

/**
 * After an unknown outcome, the next write of the name is checked against what RWX holds: the same
 * version confirms it (the name's fence is lifted); a newer one means a write landed after it, most likely
 * the one whose outcome was unknown, so RWX may hold the older value: the secret is written again
 * (until attempts run out). An older version or none is an outside change, and also ends the wait.
 * Changes `outcomes` in place and returns the attempts to record for the writes sent again.
 */
export function confirmWrites(
  ctx: BatchContext,
  outcomes: Outcome[],
  written: Written[],
  reads: Attempt[],
  now: number,
): Attempt[] {
  const again: Attempt[] = []
  written.forEach((w, i) => {
    const read = reads[i]
    const at = outcomes.findIndex((o) => o.id === w.secretId)
    const delivered = outcomes[at]
    if (!w.item?.unconfirmed || read === undefined || delivered?.kind !== 'delivered') return
    if (read.outcome === 'read-back-failed') return
    const newer =
      read.outcome === 'read-back' && read.version !== null && w.version !== null && read.version > w.version
    if (!newer || w.item.attempts + 1 >= ctx.config.maxAttempts) {
      delivered.confirmed = true
      return
    }
    const error = `RWX holds version ${read.version}, newer than the ${w.version} written: a write whose outcome was unknown landed after it; writing again`
    ctx.log.warn({ vault: w.item.vault, name: w.name, written: w.version, readBack: read.version }, error)
    outcomes[at] = { id: w.secretId, kind: 'retry', at: now, error, countAttempt: true }
    again.push({
      secretId: w.secretId,
      at: now,
      outcome: 'retry',
      status: '200',
      version: read.version,
      error,
    })
  })
  return again
}

/**
 * After a 200 without `set_secrets`, reads each secret of `sent` back before it is sent again. RWX has no
 * compare-and-set and a name may be held from an earlier write, so holding the name proves nothing by
 * itself: a secret counts as delivered only when RWX's version is higher than the version of the last
 * value the relay delivered for the name (its never-regress watermark, `lastVersion`). Without one (the
 * relay never delivered the name, or does not know its version) it is sent again: a second write of the
 * same value costs a version, a write taken for done that never landed loses the value. Changes
 * `outcomes` in place (their retries stand otherwise); returns the read-back attempts.
 */
export async function confirmByReadBack(
  ctx: BatchContext,
  vault: string,
  sent: readonly { item: Claimed; value: string }[],
  outcomes: Outcome[],
): Promise<Attempt[]> {
  const reads = await inLanes(sent, async ({ item }) => {
    const got = await ctx.client.getSecret(vault, item.name, { signal: ctx.signal })
    const mark = got.kind === 'found' ? await ctx.lastVersion(vault, item.name) : null
    return { got, mark }
  })
  const attempts: Attempt[] = []
  sent.forEach(({ item, value }, i) => {
    const { got, mark } = reads[i]!
    const at = outcomes.findIndex((o) => o.id === item.id)
    const current = outcomes[at]
    if (current === undefined || current.kind === 'delivered' || current.kind === 'superseded') return
    const version = got.kind === 'found' ? got.version : null
    const read = { secretId: item.id, at: ctx.clock(), outcome: 'read-back' }
    if (got.kind === 'failed') {
      attempts.push({
        ...read,
        outcome: 'read-back-failed',
        status: got.status ? String(got.status) : 'error',
        version: null,
        error: got.reason,
      })
      return
    }
    attempts.push({ ...read, status: got.kind === 'found' ? '200' : '404', version, error: null })
    if (version !== null && mark !== null && version > mark) {
      outcomes[at] = {
        id: item.id,
        kind: 'delivered',
        version,
        ...(item.ref === null ? {} : { fingerprint: ctx.sealer.fingerprint(value) }),
      }
      return
    }
    if (current.kind !== 'retry') return
    const why =
      got.kind === 'missing'
        ? 'RWX does not hold it'
        : mark === null
          ? `RWX holds version ${version ?? '?'}, and no earlier version delivered by the relay tells whether this write made it`
          : `RWX holds version ${version ?? '?'}, not newer than version ${mark} the relay last delivered`
    current.error = `${current.error}; ${why}: sending it again`
  })
  return attempts
}
