// One delivery round's work: split leased secrets into requests, send one, and decide each outcome.
import type { DeliveryConfig } from '../config/schema.js'
import { valueAad } from '../queue/crypto.js'
import type { Attempt, Claimed, Outcome } from '../queue/store.js'
import { retryDelayMs } from './backoff.js'
import {
  confirmByReadBack,
  confirmWrites,
  deliveredOutcome,
  readBack,
  takenDespiteRefusal,
} from './read-back.js'
import type { RwxSecret, SetSecretsResult } from './rwx-client.js'
import type { BatchContext, BatchResult } from './types.js'
import type { ReferenceResolver } from './values.js'

/**
 * The provenance records of `outcomes` but deliveries; `status` is RWX's answer, null when nothing was
 * sent (the first `unsent` outcomes).
 */
export function attemptsOf(
  outcomes: Outcome[],
  unsent: number,
  status: string | null,
  at: number,
): Attempt[] {
  const out: Attempt[] = []
  outcomes.forEach((o, i) => {
    if (o.kind === 'delivered') return
    out.push({
      secretId: o.id,
      at,
      outcome: o.kind,
      status: i < unsent ? null : status,
      version: null,
      error: o.error,
    })
  })
  return out
}

/**
 * Groups leased secrets by vault into requests of at most `batchSize` (a `solo` secret alone).
 * A second secret for a name already planned is put aside: one request must not write a name twice.
 */
export function planBatches(
  claimed: Claimed[],
  batchSize: number,
): { batches: Claimed[][]; held: Claimed[] } {
  const byVault = new Map<string, Claimed[]>()
  const seen = new Set<string>()
  const held: Claimed[] = []
  const batches: Claimed[][] = []
  for (const c of claimed) {
    const key = valueAad(c.vault, c.name)
    if (seen.has(key)) {
      held.push(c)
      continue
    }
    seen.add(key)
    if (c.solo) {
      batches.push([c])
      continue
    }
    const group = byVault.get(c.vault) ?? []
    byVault.set(c.vault, group)
    group.push(c)
  }
  for (const group of byVault.values()) {
    for (let i = 0; i < group.length; i += batchSize) batches.push(group.slice(i, i + batchSize))
  }
  return { batches, held }
}

/** Why a secret RWX did not name in a partial 400 waits for its read-back. */
const REFUSED_OTHERS = 'RWX refused other secrets of the request'

/** Resolves values, sends one request for one vault, and returns one outcome per secret. */
export async function deliverBatch(ctx: BatchContext, vault: string, items: Claimed[]): Promise<BatchResult> {
  const outcomes: Outcome[] = []
  const ready: { item: Claimed; value: string }[] = []
  for (const item of items) {
    const got = await valueFor(ctx, item)
    if (typeof got === 'string') ready.push({ item, value: got })
    else outcomes.push(got)
  }
  if (ready.length > 0) ready.splice(0, ready.length, ...(await marked(ctx, ready, outcomes)))
  if (ready.length === 0)
    return { outcomes, attempts: attemptsOf(outcomes, outcomes.length, null, ctx.clock()) }
  const unsent = outcomes.length

  const secrets: RwxSecret[] = ready.map(({ item, value }) =>
    item.description === null
      ? { name: item.name, secret: value }
      : { name: item.name, secret: value, description: item.description },
  )
  const started = performance.now()
  const result = await ctx.client.setSecrets(vault, secrets, { signal: ctx.signal })
  const ms = performance.now() - started
  const status =
    result.kind === 'ok' ? '200' : 'status' in result && result.status ? String(result.status) : 'error'
  ctx.events?.onRequest?.(status, secrets.length, ms)
  // One line per failed request (not per secret): an RWX outage must not flood the log.
  // A 200 without set_secrets is reported by the worker, once an interval.
  if (result.kind === 'ok' || result.kind === 'unconfirmed')
    ctx.log.debug({ vault, secrets: secrets.length, status, ms: Math.round(ms) }, 'RWX request')
  else {
    const fields = { vault, secrets: secrets.length, status, ms: Math.round(ms), reason: result.reason }
    ctx.log.warn(fields, 'RWX request failed')
  }
  ctx.onAnswer(result, vault)

  const now = ctx.clock()
  for (const { item, value } of ready) outcomes.push(outcomeOf(ctx, item, value, result, ready.length, now))
  // After a 400 naming what RWX refused: the others are read back, and only those RWX lacks go again.
  const reads =
    result.kind === 'rejected' && ready.length > 1 && result.refused.size > 0
      ? await takenDespiteRefusal(
          ctx,
          vault,
          ready.filter(({ item }) => !result.refused.has(item.name)),
          outcomes,
        )
      : []
  const attempts = attemptsOf(outcomes, unsent, status, now)
  attempts.push(...reads)
  // After a 200 that does not say what it set, the read-back decides, not a blind resend.
  if (result.kind === 'unconfirmed') attempts.push(...(await confirmByReadBack(ctx, vault, ready, outcomes)))
  if (result.kind === 'ok') {
    // Every delivery with `delivery.verify`; else only the write after an unknown outcome (a fence).
    const items = new Map(ready.map(({ item }) => [item.id, item]))
    const written = outcomes.flatMap((o) => {
      const item = o.kind === 'delivered' ? items.get(o.id) : undefined
      if (o.kind !== 'delivered' || item === undefined || !(ctx.config.verify || item.unconfirmed)) return []
      return [{ secretId: o.id, name: item.name, version: o.version, item }]
    })
    if (written.length > 0) {
      const reads = await readBack(ctx, vault, written)
      attempts.push(...reads, ...confirmWrites(ctx, outcomes, written, reads, now))
    }
  }
  return { outcomes, attempts }
}

/**
 * The items still leased once marked as being sent (the store's record that their request may be in
 * flight); the others get an outcome here and are not sent. A lost lease is given back due now, without
 * using an attempt (the store ignores it when another worker holds the name).
 */
async function marked<T extends { item: Claimed }>(
  ctx: BatchContext,
  ready: T[],
  outcomes: Outcome[],
): Promise<T[]> {
  const now = ctx.clock()
  let held: Set<number>
  let error: string
  try {
    held = new Set((await ctx.beforeSend(ready.map(({ item }) => item))).map((c) => c.id))
    error = 'the lease ran out before the request was sent'
  } catch {
    held = new Set()
    error = 'the store could not be reached before sending'
  }
  for (const { item } of ready)
    if (!held.has(item.id)) outcomes.push({ id: item.id, kind: 'retry', at: now, error, countAttempt: false })
  return ready.filter(({ item }) => held.has(item.id))
}

function outcomeOf(
  ctx: BatchContext,
  item: Claimed,
  value: string,
  result: SetSecretsResult,
  sent: number,
  now: number,
): Outcome {
  switch (result.kind) {
    case 'ok':
      if (!result.set.has(item.name)) return countedRetry(ctx, item, now, 'RWX did not confirm the secret')
      return deliveredOutcome(ctx, item, value, result.versions.get(item.name) ?? null)
    case 'retry': {
      const retry = countedRetry(ctx, item, now, result.reason, result.retryAfterMs)
      // RWX may still apply this write: no value of the name goes out while it could land after it.
      if (result.uncertain && (retry.kind === 'retry' || retry.kind === 'dead'))
        retry.fenceUntil = now + ctx.config.uncertainWriteSeconds * 1000
      return retry
    }
    case 'auth':
      // A token fix must not lose secrets: wait slowly, never use up attempts or age.
      return {
        id: item.id,
        kind: 'retry',
        at: now + ctx.config.authRetrySeconds * 1000,
        error: `RWX refused the token (${result.status}): ${result.reason}`,
        countAttempt: false,
      }
    case 'rejected':
      if (sent === 1) return { id: item.id, kind: 'dead', error: result.reason }
      // Batches are not atomic. When RWX's message names the secrets it refused, the others were most
      // likely stored: deliverBatch reads them back (this retry stands if RWX does not hold it).
      if (result.refused.size > 0 && !result.refused.has(item.name))
        return { id: item.id, kind: 'retry', at: now, error: REFUSED_OTHERS, countAttempt: false }
      // A named one, or RWX named none: send each alone to learn which one RWX refuses.
      return { id: item.id, kind: 'retry', at: now, error: result.reason, countAttempt: false, solo: true }
    case 'unconfirmed':
      // Sent again on the normal backoff unless the read-back (deliverBatch) shows the write landed.
      return countedRetry(ctx, item, now, result.reason)
    case 'missing-vault':
      // The vault is missing (not created yet, or misnamed): the operator's to fix, and the value must
      // survive until then. Wait as for a refused token, without using up attempts or age.
      return {
        id: item.id,
        kind: 'retry',
        at: now + ctx.config.authRetrySeconds * 1000,
        error: `RWX has no vault "${item.vault}" (404): create it, the secret stays queued (${result.reason})`,
        countAttempt: false,
      }
    case 'dead':
      return { id: item.id, kind: 'dead', error: result.reason }
  }
}

/** A retry that uses up an attempt, or dead when attempts or age have run out. */
export function countedRetry(
  ctx: {
    config: Pick<DeliveryConfig, 'maxAttempts' | 'maxAgeSeconds' | 'backoffBaseMs' | 'backoffMaxMs'>
    random: () => number
  },
  item: Claimed,
  now: number,
  reason: string,
  retryAfterMs?: number,
): Outcome {
  const attempt = item.attempts + 1
  const { maxAttempts, maxAgeSeconds, backoffBaseMs, backoffMaxMs } = ctx.config
  if (attempt >= maxAttempts || now - item.createdAt >= maxAgeSeconds * 1000) {
    return { id: item.id, kind: 'dead', error: `gave up after ${attempt} attempts: ${reason}` }
  }
  const delay = retryDelayMs(
    attempt,
    { baseMs: backoffBaseMs, maxMs: backoffMaxMs },
    retryAfterMs,
    ctx.random,
  )
  return { id: item.id, kind: 'retry', at: now + delay, error: reason, countAttempt: true }
}

/** The plaintext to send, or the outcome when there is none to send now. */
async function valueFor(ctx: BatchContext, item: Claimed): Promise<string | Outcome> {
  if (item.sealed) {
    try {
      return ctx.sealer.open(item.sealed, valueAad(item.vault, item.name))
    } catch {
      return { id: item.id, kind: 'dead', error: 'cannot decrypt value: wrong encryption key?' }
    }
  }
  if (!item.ref) return { id: item.id, kind: 'dead', error: 'queued secret has no value' }
  if (!ctx.resolver) return { id: item.id, kind: 'dead', error: 'no resolver for AWS references' }
  let got: Awaited<ReturnType<ReferenceResolver['resolve']>>
  try {
    got = await ctx.resolver.resolve(item.ref)
  } catch {
    // The resolver should not throw; its message is not trusted to be free of values.
    return countedRetry(ctx, item, ctx.clock(), 'resolving the value reference failed')
  }
  switch (got.kind) {
    case 'value':
      if (got.value === '') return { id: item.id, kind: 'dead', error: 'resolved value is empty' }
      return got.value
    case 'retry':
      if (got.countAttempt === false) {
        const at = ctx.clock() + (got.afterMs ?? ctx.config.authRetrySeconds * 1000)
        return { id: item.id, kind: 'retry', at, error: got.error, countAttempt: false }
      }
      return countedRetry(ctx, item, ctx.clock(), got.error, got.afterMs)
    case 'dead':
      return { id: item.id, kind: 'dead', error: got.error }
    case 'superseded':
      return { id: item.id, kind: 'superseded', error: got.error }
  }
}
