// What the relay keeps of RWX's error answers: its status and a short message that quotes no value.

import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, adminApp, allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const VALUE = 'Zq7xJ9wK2mPv-h41b'
/** RWX echoing a prefix, an upper-cased copy and a suffix of the value: none of them an exact copy. */
const ECHOES = [VALUE.slice(0, 9), VALUE.toUpperCase(), VALUE.slice(-6)]

async function adminAnswers(eventId: string): Promise<string> {
  const app = await adminApp(h)
  try {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const one = await app.inject({ method: 'GET', url: `/admin/events/test/${eventId}`, headers })
    expect(one.statusCode).toBe(200)
    const list = await app.inject({ method: 'GET', url: '/admin/events', headers })
    const status = await app.inject({ method: 'GET', url: '/admin/status', headers })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    return [one.body, list.body, status.body, ready.body].join('\n')
  } finally {
    await app.close()
  }
}

function expectNoEcho(text: string): void {
  const lower = text.toLowerCase()
  for (const echo of ECHOES) expect(lower).not.toContain(echo.toLowerCase())
}

describe('delivery worker: RWX error messages', () => {
  it('keeps no prefix or upper-cased copy of a value that RWX echoes, in the store, admin answers or logs', async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 503, body: { error: `backend busy while saving ${ECHOES[0]}…` } })
    h.fake.failNext(1, {
      status: 400,
      body: { error: `A: value ${ECHOES[1]} (ends ${ECHOES[2]}) is refused` },
    })
    const id = await h.enqueue([{ name: 'A', value: VALUE }])
    await h.until(() => allIn(h, id, 'dead'))
    const [a] = await h.secrets(id)
    expect(a!.lastError).toBe('RWX answered 400 (its message is withheld: it may quote a value)')
    expectNoEcho(JSON.stringify(await h.secrets(id)))
    expectNoEcho(JSON.stringify(await h.store.getProvenance('test', id)))
    expectNoEcho(JSON.stringify(h.worker.status()))
    expectNoEcho(await adminAnswers(id))
    const logs = h.logs.join('\n')
    expect(logs).toContain('RWX answered 503 (its message is withheld: it may quote a value)')
    expectNoEcho(logs)
  })

  it("keeps RWX's own short message when it quotes nothing of a value", async () => {
    h = await createHarness()
    h.fake.failNext(1, { status: 400, body: { error: 'A: secret is too long' } })
    const id = await h.enqueue([{ name: 'A', value: VALUE }])
    await h.until(() => allIn(h, id, 'dead'))
    expect((await h.secrets(id))[0]!.lastError).toBe('A: secret is too long')
  })
})
