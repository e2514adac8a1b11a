// The store contract: what every Store (SQLite, PostgreSQL) must do, written against the interface only.
import { afterEach, beforeEach, describe } from 'vitest'
import type { Store } from '../../src/queue/store.js'
import { adminContract } from './store-contract-admin.js'
import { deliveryContract } from './store-contract-delivery.js'
import { enqueueContract } from './store-contract-enqueue.js'
import type { ContractContext, StoreFixture } from './store-contract-helpers.js'
import { operationsContract } from './store-contract-operations.js'
import { retentionContract } from './store-contract-retention.js'

export type { StoreFixture } from './store-contract-helpers.js'

/**
 * Registers the contract suite for one store implementation. `makeStore` gives each test a fresh,
 * empty store; `cleanup` closes it and removes what it made. Times are explicit: no test sleeps.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`store contract: ${name}`, () => {
    let fixture: StoreFixture | undefined
    const ctx: ContractContext = {
      get store(): Store {
        if (fixture === undefined) throw new Error('no store: the contract runs inside its own tests')
        return fixture.store
      },
    }
    beforeEach(async () => {
      fixture = await makeStore()
    })
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })
    enqueueContract(ctx)
    deliveryContract(ctx)
    adminContract(ctx)
    retentionContract(ctx)
    operationsContract(ctx)
  })
}
