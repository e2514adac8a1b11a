import { describe, expect, it } from 'vitest'
import type { ValueRef, ValueStoreKind } from '../../src/config/schema.js'
import { combineResolvers, type ReferenceResolver } from '../../src/delivery/values.js'

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
