import { afterEach, describe, expect, it } from 'vitest'
import { runAdminCommand, STATUS_NOT_RUNNING_EXIT } from '../../src/cli/admin.js'
import type { DeliveryStatus } from '../../src/delivery/types.js'
import { type Harness, startHarness } from '../support/app-harness.js'

const TOKEN = 'adm-token-do-not-leak'
const config = `
admin: { token: ${TOKEN} }
sources:
  - id: src
    verify: { type: api-key, header: x-key, keys: ["k"] }
`
const closed = { state: 'closed' as const, failures: 0 }
const authFailing: DeliveryStatus = {
  authFailing: true,
  paused: false,
  lastSuccessAt: Date.parse('2026-01-02T03:04:05Z'),
  breaker: closed,
}

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** `vault-relay status` against a relay whose worker reports `status`: exit code and output. */
async function status(delivery: DeliveryStatus, pause = false) {
  h = await startHarness(config, { status: () => delivery })
  if (pause)
    await h.app.inject({ method: 'POST', url: '/admin/pause', headers: { authorization: `Bearer ${TOKEN}` } })
  const url = await h.app.listen({ host: '127.0.0.1', port: 0 })
  let text = ''
  const code = await runAdminCommand('status', ['--url', url], { RELAY_ADMIN_TOKEN: TOKEN }, (t) => {
    text += t
  })
  return { code, text }
}

describe('GET /admin/status: delivery health', () => {
  it('says degraded and rwx auth failing while RWX refuses the token', async () => {
    h = await startHarness(config, { status: () => authFailing })
    const res = await h.app.inject({
      method: 'GET',
      url: '/admin/status',
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(res.json()).toMatchObject({
      paused: false,
      delivery: 'degraded',
      rwx: { auth: 'failing', lastSuccessAt: '2026-01-02T03:04:05.000Z' },
    })
    expect(res.body).not.toContain('test-token')
  })

  it('says running when all is well, paused when paused', async () => {
    h = await startHarness(config)
    const auth = { authorization: `Bearer ${TOKEN}` }
    const get = async () =>
      (await h!.app.inject({ method: 'GET', url: '/admin/status', headers: auth })).json()
    expect(await get()).toMatchObject({ delivery: 'running', rwx: { auth: 'ok', lastSuccessAt: null } })
    await h.app.inject({ method: 'POST', url: '/admin/pause', headers: auth })
    expect(await get()).toMatchObject({ delivery: 'paused', paused: true })
  })
})

describe('vault-relay status', () => {
  it('prints running and exits 0 when delivery runs', async () => {
    const { code, text } = await status({ authFailing: false, paused: false, breaker: closed })
    expect(text).toMatch(/^delivery: running$/m)
    expect(code).toBe(0)
  })

  it('says running, but RWX refuses the token, and exits 3', async () => {
    const { code, text } = await status(authFailing)
    expect(text).toMatch(
      /^delivery: running, but RWX refuses the token \(401\/403: fix RWX_ACCESS_TOKEN; nothing delivered since 2026-01-02T03:04:05.000Z\)$/m,
    )
    expect(code).toBe(STATUS_NOT_RUNNING_EXIT)
    expect(STATUS_NOT_RUNNING_EXIT).toBe(3)
  })

  it('says the breaker is open, and exits 3', async () => {
    const breaker = { state: 'open' as const, failures: 4, openedAt: 1_000, nextProbeAt: 5_000 }
    const { code, text } = await status({ authFailing: false, paused: false, breaker })
    expect(text).toContain(
      'delivery: running, but RWX is failing (breaker open since 1970-01-01T00:00:01.000Z)',
    )
    expect(code).toBe(3)
  })

  it('exits 3 while paused', async () => {
    const { code, text } = await status({ authFailing: false, paused: false, breaker: closed }, true)
    expect(text).toMatch(/^delivery: PAUSED since /m)
    expect(code).toBe(3)
  })
})
