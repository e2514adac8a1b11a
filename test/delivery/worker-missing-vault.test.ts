// A vault RWX does not know (404) is an operator's mistake to fix: the secret stays queued, loudly.
import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, adminApp, allIn, createHarness, type Harness } from './harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

const VALUE = 'kept-while-the-vault-is-missing-81x'

async function answers(): Promise<{ ready: string; metrics: string; status: string }> {
  const app = await adminApp(h)
  try {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const ready = (await app.inject({ method: 'GET', url: '/readyz' })).body
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    const status = (await app.inject({ method: 'GET', url: '/admin/status', headers })).body
    return { ready, metrics, status }
  } finally {
    await app.close()
  }
}

const missingWarnings = (h: Harness) =>
  h.logs.filter((l) => l.includes('RWX has no such vault') && l.includes('"vault":"payments"')).length

describe('delivery worker: a vault RWX does not know', () => {
  it('keeps the secret queued without using attempts, says so once, and delivers once the vault exists', async () => {
    h = await createHarness({ config: { authRetrySeconds: 1, maxAttempts: 2 } })
    // Three answers of 404 (more than maxAttempts): the vault is created after the third.
    h.fake.failNext(3, { status: 404, body: { error: 'Vault not found' } })
    const id = await h.enqueue([
      { name: 'A', value: VALUE },
      { name: 'B', value: `${VALUE}-b` },
    ])
    await h.until(async () => (await h.secrets(id)).every((s) => s.lastError !== null))
    const [a] = await h.secrets(id)
    expect(a!.status).toBe('queued')
    expect(a!.attempts).toBe(0)
    expect(a!.lastError).toMatch(/^RWX has no vault "payments" \(404\): create it/)
    expect(h.worker.status().missingVaults).toEqual([{ vault: 'payments', since: expect.any(Number) }])

    const { ready, metrics, status } = await answers()
    expect(JSON.parse(ready)).toMatchObject({
      status: 'degraded',
      rwx: { missingVaults: 1, missingVaultsDetail: expect.stringContaining('create them') },
    })
    // /readyz needs no token: it counts the vaults but names none of them.
    expect(ready).not.toContain('payments')
    expect(metrics).toMatch(/^relay_rwx_missing_vaults 1$/m)
    expect(JSON.parse(status).missingVaults).toEqual([{ vault: 'payments', since: expect.any(String) }])
    expect(missingWarnings(h)).toBe(1)

    await h.until(() => allIn(h, id, 'delivered'), 10_000)
    expect(h.fake.secrets('payments').get('A')?.secret).toBe(VALUE)
    expect(h.fake.requests.filter((r) => r.status === 404)).toHaveLength(3)
    // One warning per interval (authRetrySeconds), not one per request or per secret.
    expect(missingWarnings(h)).toBeLessThanOrEqual(3)
    expect(h.worker.status().missingVaults).toEqual([])
    expect(JSON.parse((await answers()).ready).status).toBe('ready')
    expect(h.logs.join('\n')).not.toContain(VALUE)
  }, 15_000)
})
