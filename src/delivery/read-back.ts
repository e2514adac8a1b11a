// Verify after write (`delivery.verify`): read each delivered secret's metadata back and compare versions.
import type { Attempt, Claimed, Outcome } from '../queue/store.js'
import type { ReadSecretResult } from './rwx-client.js'
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

/** A secret RWX took: delivered at `version`. */
export function deliveredOutcome(
  ctx: Pick<BatchContext, 'sealer'>,
  item: Claimed,
  value: string,
  version: number | null,
): Outcome {
  return {
    id: item.id,
    kind: 'delivered',
    version,
    // A queued value was fingerprinted when it was queued (the store keeps that one); a value fetched
    // now (a reference) is first known here.
    ...(item.ref === null ? {} : { fingerprint: ctx.sealer.fingerprint(value) }),
  }
}

/** What RWX's read-back says of one secret sent in an answer that did not confirm it. */
type Judgement = { took: number | null } | { why: string }

/**
 * After an answer that does not say which secrets RWX stored, reads each of `sent` back and lets `judge`
 * decide: RWX took it (delivered at the version read) or not (its retry stands, with why: sent again).
 * Records a `read-back` attempt for each read, `read-back-failed` when the read failed. Changes `outcomes`
 * in place (only secrets to retry or given up on); returns the attempts.
 */
async function settleByReadBack(
  ctx: BatchContext,
  vault: string,
  sent: readonly { item: Claimed; value: string }[],
  outcomes: Outcome[],
  judge: (got: ReadSecretResult & { kind: 'found' | 'missing' }, item: Claimed) => Promise<Judgement>,
): Promise<Attempt[]> {
  const index = new Map(outcomes.map((o, i) => [o.id, i]))
  // still to be sent again, or given up on: a read-back showing RWX took it makes either a delivery
  const pending = sent.filter(({ item }) => {
    const kind = outcomes[index.get(item.id) ?? -1]?.kind
    return kind === 'retry' || kind === 'dead'
  })
  const reads = await inLanes(pending, async ({ item }) => {
    const got = await ctx.client.getSecret(vault, item.name, { signal: ctx.signal })
    return {
      got,
      verdict: got.kind === 'failed' ? { why: 'reading it back failed' } : await judge(got, item),
    }
  })
  const attempts: Attempt[] = []
  pending.forEach(({ item, value }, i) => {
    const { got, verdict } = reads[i]!
    const at = index.get(item.id)!
    const read = { secretId: item.id, at: ctx.clock() }
    if (got.kind === 'failed') {
      const status = got.status ? String(got.status) : 'error'
      attempts.push({ ...read, outcome: 'read-back-failed', status, version: null, error: got.reason })
    } else {
      const version = got.kind === 'found' ? got.version : null
      const status = got.kind === 'found' ? '200' : '404'
      attempts.push({ ...read, outcome: 'read-back', status, version, error: null })
    }
    const current = outcomes[at]!
    if ('took' in verdict) outcomes[at] = deliveredOutcome(ctx, item, value, verdict.took)
    else if (current.kind === 'retry') current.error = `${current.error}; ${verdict.why}: sending it again`
  })
  const failed = attempts.filter((a) => a.outcome === 'read-back-failed').length
  if (failed > 0) ctx.log.warn({ vault, secrets: failed }, 'reading secrets back from RWX failed')
  return attempts
}

/**
 * After a 400 whose message names the secrets RWX refused, the others of the request were most likely
 * stored (RWX's batches are not atomic, and its answer lists no stored names): reads each of `taken` back.
 * RWX holds it: delivered, at the version read. Missing, or the read failed: sent again (at least once).
 * RWX has no compare-and-set: a name it holds from an earlier write would pass for this one, which is
 * why this is done only when RWX names what it refused.
 */
export function takenDespiteRefusal(
  ctx: BatchContext,
  vault: string,
  taken: readonly { item: Claimed; value: string }[],
  outcomes: Outcome[],
): Promise<Attempt[]> {
  return settleByReadBack(ctx, vault, taken, outcomes, async (got) =>
    got.kind === 'found' ? { took: got.version } : { why: 'RWX does not hold it' },
  )
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
    ctx.events?.onSignal?.({
      kind: 'outside-change',
      vault,
      name: w.name,
      source: w.item?.source ?? null,
      eventId: w.item?.eventId ?? null,
      at,
      detail:
        kind === 'missing'
          ? `RWX no longer holds the secret (404) after the relay wrote version ${w.version ?? '?'}`
          : `RWX holds version ${version}, older than version ${w.version ?? '?'} the relay wrote`,
      written: w.version,
      readBack: version,
    })
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
export function confirmByReadBack(
  ctx: BatchContext,
  vault: string,
  sent: readonly { item: Claimed; value: string }[],
  outcomes: Outcome[],
): Promise<Attempt[]> {
  return settleByReadBack(ctx, vault, sent, outcomes, async (got, item) => {
    if (got.kind === 'missing') return { why: 'RWX does not hold it' }
    const mark = await ctx.lastVersion(vault, item.name)
    if (got.version !== null && mark !== null && got.version > mark) return { took: got.version }
    return {
      why:
        mark === null
          ? `RWX holds version ${got.version ?? '?'}, and no earlier version delivered by the relay tells whether this write made it`
          : `RWX holds version ${got.version ?? '?'}, not newer than version ${mark} the relay last delivered`,
    }
  })
}
