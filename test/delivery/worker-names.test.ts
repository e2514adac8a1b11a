// Secret names that are also names of Object.prototype's members travel like any other name.
import { afterEach, describe, expect, it } from 'vitest'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const BUILT_IN = ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__']

describe('delivery worker: names of built-in object members', () => {
  it('delivers secrets named constructor, valueOf, toString, hasOwnProperty and __proto__ with their versions', async () => {
    h = await createHarness()
    const names = ['A', ...BUILT_IN, 'B']
    const id = await h.enqueue(names.map((name) => ({ name, value: `value-of-${name}` })))
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    const records = await h.secrets(id)
    expect(records.map((s) => [s.name, s.status, s.rwxVersion, s.attempts])).toEqual(
      names.map((name) => [name, 'delivered', 1, 1]),
    )
    // one request, each name written once with its own value
    expect(h.fake.requests).toHaveLength(1)
    for (const name of names) {
      expect(h.fake.writes.filter((w) => w.name === name).map((w) => w.secret)).toEqual([`value-of-${name}`])
    }
    expect(h.logs.join('\n')).not.toContain('could not record delivery outcomes')
  })

  it('counts versions of a second write under such a name', async () => {
    h = await createHarness()
    const first = await h.enqueue(BUILT_IN.map((name) => ({ name, value: `one-${name}` })))
    await h.until(() => allIn(h, first, 'delivered', 'dead'))
    const second = await h.enqueue(BUILT_IN.map((name) => ({ name, value: `two-${name}` })))
    await h.until(() => allIn(h, second, 'delivered', 'dead'))
    expect((await h.secrets(second)).map((s) => [s.name, s.status, s.rwxVersion])).toEqual(
      BUILT_IN.map((name) => [name, 'delivered', 2]),
    )
  })

  it('records the other outcomes of a batch when the store refuses one of them', async () => {
    h = await createHarness({ start: false })
    const id = await h.enqueue(['A', 'B', 'C'].map((name) => ({ name, value: `value-of-${name}` })))
    const bad = (await h.secrets(id)).find((s) => s.name === 'B')!.id
    const settle = h.store.settle.bind(h.store)
    // refuses B's delivery until B's outcome has been recorded some other way
    let refuse = true
    h.store.settle = async (owner, now, outcomes, attempts) => {
      if (refuse && outcomes.some((o) => o.id === bad && o.kind === 'delivered'))
        throw new Error('cannot bind')
      await settle(owner, now, outcomes, attempts)
      if (outcomes.some((o) => o.id === bad)) refuse = false
    }
    h.worker.start()
    await h.until(() => allIn(h, id, 'delivered', 'dead'))
    // B's first delivery could not be recorded: it counts as an attempt and B goes again, alone
    expect((await h.secrets(id)).map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['A', 'delivered', 1],
      ['B', 'delivered', 2],
      ['C', 'delivered', 1],
    ])
    expect(h.fake.writes.map((w) => w.name).sort()).toEqual(['A', 'B', 'B', 'C'])
    expect(h.logs.join('\n')).toContain('the store refused a delivery outcome')
  })

  it('counts an outcome the store keeps refusing, until the secret is dead', async () => {
    h = await createHarness({ config: { maxAttempts: 2, leaseSeconds: 1 }, start: false })
    const id = await h.enqueue([{ name: 'A', value: 'value-of-A' }])
    const settle = h.store.settle.bind(h.store)
    h.store.settle = async (owner, now, outcomes, attempts) => {
      if (outcomes.some((o) => o.kind === 'delivered')) throw new Error('cannot bind')
      return settle(owner, now, outcomes, attempts)
    }
    h.worker.start()
    await h.until(() => allIn(h, id, 'dead'))
    const [a] = await h.secrets(id)
    expect(a!.status).toBe('dead')
    expect(a!.lastError).toMatch(/^gave up after 2 attempts: could not record the outcome/)
    expect(h.fake.writes).toHaveLength(2)
  })
})
