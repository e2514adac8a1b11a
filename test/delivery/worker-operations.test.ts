// The worker's operations behaviour against the real fake RWX: the circuit breaker during an outage, the
// global pause, verify after write, and the attempts it records for provenance.
import { afterEach, describe, expect, it } from 'vitest'
import { createPauseSwitch, type PauseSwitch } from '../../src/delivery/pause.js'
import { allIn, createHarness, type Harness } from './harness.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const secretsIn = (body: unknown) => ((body as { secrets?: unknown[] } | null)?.secrets ?? []).length

describe('circuit breaker in the worker', () => {
  it('sends one probe of one secret at a time while RWX fails, then delivers at full speed', async () => {
    h = await createHarness({
      // one lane, so the requests that open the breaker are known: the three full batches of fresh secrets
      config: {
        batchSize: 10,
        concurrency: 1,
        maxAttempts: 1000,
        breaker: { threshold: 3, probeMs: 5, probeMaxMs: 10, connectProbeMaxMs: 10 },
      },
    })
    const FAILURES = 12
    h.fake.failNext(FAILURES, { status: 503, body: { error: 'maintenance' } })
    const ids = [await h.enqueue(Array.from({ length: 30 }, (_, i) => ({ name: `S${i}`, value: `v${i}` })))]
    await h.fake.waitFor((_w, reqs) => reqs.filter((r) => r.status === 503).length >= FAILURES)
    await h.until(async () => allIn(h!, ids[0]!, 'delivered'))
    const reqs = h.fake.requests
    const failed = reqs.filter((r) => r.status === 503)
    // full batches until it opens at the third failure, then only probes of one secret
    const sizes = failed.map((r) => secretsIn(r.body))
    expect(sizes).toEqual([10, 10, 10, ...Array(FAILURES - 3).fill(1)])
    // the first success is a probe; once it succeeds the rest go in full batches
    const firstOk = reqs.findIndex((r) => r.status === 200)
    expect(secretsIn(reqs[firstOk]!.body)).toBe(1)
    expect(reqs.slice(firstOk + 1).some((r) => secretsIn(r.body) > 1)).toBe(true)
    expect(h.worker.status().breaker.state).toBe('closed')
    expect(h.logs.join('')).toContain('circuit breaker open')
    expect(h.logs.join('')).toContain('circuit breaker closed')
  })

  it('starts draining soon after RWX listens again, however long it refused connections', async () => {
    h = await createHarness({
      // probes 2 s apart and doubling (up to 60 s) for an RWX that answers 5xx; refused connections cost RWX nothing
      config: {
        maxAttempts: 1000,
        backoffBaseMs: 10,
        breaker: { threshold: 1, probeMs: 2_000, probeMaxMs: 60_000, connectProbeMaxMs: 100 },
      },
    })
    await h.fake.down()
    const id = await h.enqueue([{ name: 'A', value: 'a-1' }])
    await h.until(() => h!.worker.status().breaker.state === 'open')
    // several refused probes: without the cap the next would be 2, 4, 8 … s away
    await h.until(async () => (await h!.secrets(id))[0]!.attempts >= 4)
    await h.fake.up()
    await h.until(() => allIn(h!, id, 'delivered'), 1_500)
    expect(h.worker.status().breaker.state).toBe('closed')
  })

  it('uses up attempts only of the secrets it sends: those held back while open keep theirs', async () => {
    h = await createHarness({
      config: {
        batchSize: 5,
        concurrency: 1,
        maxAttempts: 1000,
        breaker: { threshold: 1, probeMs: 5, probeMaxMs: 5, connectProbeMaxMs: 5 },
      },
    })
    h.fake.failNext(6, { status: 502 })
    const id = await h.enqueue(Array.from({ length: 10 }, (_, i) => ({ name: `N${i}`, value: `v${i}` })))
    await h.until(async () => allIn(h!, id, 'delivered'))
    const secrets = await h.secrets(id)
    // 6 failed requests: one batch of 5 opened the breaker, then 5 one-secret probes
    const totalFailedSends = h.fake.requests
      .filter((r) => r.status === 502)
      .reduce((n, r) => n + secretsIn(r.body), 0)
    expect(totalFailedSends).toBe(10)
    expect(secrets.reduce((n, s) => n + s.attempts, 0)).toBe(10 + totalFailedSends)
  })
})

describe('global pause in the worker', () => {
  it('sends nothing while paused, however long it looks, and delivers once resumed', async () => {
    let reads = 0
    const holds: string[] = []
    let pause: PauseSwitch | undefined
    h = await createHarness({
      events: { onHold: (reason) => holds.push(reason) },
      // the real switch on the real store, counting its reads: each is the worker looking again
      pause: (store) => {
        pause = createPauseSwitch({
          store: {
            getControl: () => {
              reads++
              return store.getControl()
            },
            setPaused: (...args) => store.setPaused(...args),
          },
          clock: Date.now,
          maxAgeMs: 5,
        })
        return pause
      },
    })
    await pause!.set(true, 'test')
    const id = await h.enqueue([{ name: 'P', value: 'held' }])
    const seen = reads
    await h.until(() => reads >= seen + 5)
    expect(h.fake.requests).toHaveLength(0)
    expect(h.worker.status().paused).toBe(true)
    expect(h.logs.join('')).toContain('delivery paused')
    // each look that held is reported (the relay counts them in relay_delivery_holds_total)
    expect(holds.length).toBeGreaterThanOrEqual(5)
    expect(new Set(holds)).toEqual(new Set(['paused']))
    await pause!.set(false, null)
    h.worker.notify()
    await h.until(async () => allIn(h!, id, 'delivered'))
    expect((await h.secrets(id))[0]!.attempts).toBe(1)
  })
})

describe('verify after write', () => {
  it('reads each delivered secret back and records the version, as attempts for provenance', async () => {
    h = await createHarness({ config: { verify: true } })
    const id = await h.enqueue([
      { name: 'A', value: 'a1' },
      { name: 'B', value: 'b1' },
    ])
    await h.until(async () => allIn(h!, id, 'delivered'))
    const gets = h.fake.requests.filter((r) => r.method === 'GET').map((r) => r.path)
    expect(gets.sort()).toEqual([
      '/mint/api/vaults/secrets/A?vault_name=payments',
      '/mint/api/vaults/secrets/B?vault_name=payments',
    ])
    const p = await h.store.getProvenance('test', id)
    const [a] = await h.secrets(id)
    expect(p?.attempts[a!.id]?.map((x) => [x.outcome, x.status, x.version])).toEqual([
      ['delivered', '200', 1],
      ['read-back', '200', 1],
    ])
    expect((await h.store.outsideChanges(5)).total).toBe(0)
  })

  it('counts an older version or a 404 as an outside change, and the delivery stands', async () => {
    const changes: string[] = []
    h = await createHarness({ config: { verify: true }, events: { onOutsideChange: (c) => changes.push(c) } })
    // as if someone rolled A back and deleted B right after the relay wrote them
    h.fake.overrideReads((_v, name) => (name === 'A' ? 0 : name === 'B' ? null : undefined))
    const id = await h.enqueue([
      { name: 'A', value: 'value-a2-do-not-leak' },
      { name: 'B', value: 'b1' },
    ])
    await h.until(async () => (await h!.store.outsideChanges(5)).total === 2)
    expect(await allIn(h, id, 'delivered')).toBe(true)
    expect(changes.sort()).toEqual(['missing', 'older'])
    const latest = (await h.store.outsideChanges(5)).latest
    expect(latest.map((c) => [c.name, c.written, c.readBack]).sort()).toEqual([
      ['A', 1, 0],
      ['B', 1, null],
    ])
    expect(h.logs.join('')).toContain('changed outside the relay')
    expect(h.logs.join('')).not.toContain('value-a2-do-not-leak')
  })

  it('sends no read when delivery.verify is off', async () => {
    h = await createHarness()
    const id = await h.enqueue([{ name: 'A', value: 'a1' }])
    await h.until(async () => allIn(h!, id, 'delivered'))
    expect(h.fake.requests.every((r) => r.method === 'POST')).toBe(true)
    const p = await h.store.getProvenance('test', id)
    expect(
      Object.values(p?.attempts ?? {})
        .flat()
        .map((x) => x.outcome),
    ).toEqual(['delivered'])
  })
})
