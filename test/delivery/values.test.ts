import { describe, expect, it } from 'vitest'
import type { ValueRef, ValueStoreKind } from '../../src/config/schema.js'
import {
  combineResolvers,
  currentFailure,
  isOutsideFix,
  OUTSIDE_FIX_RETRY_MS,
  outsideFix,
  type ReferenceResolver,
} from '../../src/delivery/values.js'
import { failureOf } from '../../src/delivery/vault/errors.js'

describe('combineResolvers', () => {
  const seen: ValueRef[] = []
  const aws: ReferenceResolver = {
    async resolve(ref) {
      seen.push(ref)
      return { kind: 'value', value: 'from-aws' }
    },
  }
  const resolver = combineResolvers(new Map<ValueStoreKind, ReferenceResolver>([['aws', aws]]))

  it('sends an untagged reference (queued before other stores existed) to AWS', async () => {
    await expect(resolver.resolve({ secretId: 'db' })).resolves.toEqual({ kind: 'value', value: 'from-aws' })
    expect(seen).toEqual([{ secretId: 'db' }])
  })

  it('calls a reference to a store the relay has no resolver for dead, naming the store', async () => {
    const stranger = { store: 'elsewhere', secretId: 'db' } as unknown as ValueRef
    await expect(resolver.resolve(stranger)).resolves.toEqual({
      kind: 'dead',
      error: 'no resolver for elsewhere references',
    })
  })
})

describe('failures only a fix outside the relay ends', () => {
  it('are uncounted retries a minute apart, told apart by that and not by their wait', () => {
    const denied = failureOf(403, undefined, 'secret/data/app/db')
    expect(denied).toMatchObject({ kind: 'retry', afterMs: OUTSIDE_FIX_RETRY_MS, countAttempt: false })
    expect(isOutsideFix(denied)).toBe(true)
    // A 429 asking for the same minute is Vault's load, not a policy to fix.
    expect(isOutsideFix(failureOf(429, undefined, 'secret/data/app/db', OUTSIDE_FIX_RETRY_MS))).toBe(false)
    expect(isOutsideFix(outsideFix('AWS credentials missing'))).toBe(true)
  })

  it('are, for current(), a retry with its wait; a dead read is a missing secret', () => {
    expect(currentFailure(outsideFix('refused'))).toEqual({
      kind: 'retry',
      error: 'refused',
      afterMs: OUTSIDE_FIX_RETRY_MS,
    })
    expect(currentFailure({ kind: 'retry', error: 'down' })).toEqual({ kind: 'retry', error: 'down' })
    expect(currentFailure({ kind: 'dead', error: 'no such secret' })).toEqual({
      kind: 'missing',
      error: 'no such secret',
    })
  })
})
