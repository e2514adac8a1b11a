// The store contract: what every Store (SQLite, PostgreSQL) must do, written against the interface only.
import { afterEach, beforeEach, describe } from 'vitest'
import type { Store } from '../../../src/queue/store.js'
import { adminContract } from './admin.js'
import { auditContract, oldestQueuedContract } from './audit.js'
import { deliveryContract } from './delivery.js'
import { discardContract } from './discard.js'
import { enqueueContract } from './enqueue.js'
import { fencesContract } from './fences.js'
import type { ContractContext, StoreFixture } from './helpers.js'
import { notificationsContract } from './notifications.js'
import { operationsContract } from './operations.js'
import { reconcileContract } from './reconcile.js'
import { renewContract } from './renew.js'
import { retentionContract } from './retention.js'

export type { StoreFixture } from './helpers.js'

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
    renewContract(ctx)
    fencesContract(ctx)
    adminContract(ctx)
    discardContract(ctx)
    retentionContract(ctx)
    operationsContract(ctx)
    reconcileContract(ctx)
    notificationsContract(ctx)
    auditContract(ctx)
    oldestQueuedContract(ctx)
  })
}
