// Console sessions end: after admin.console.sessionMinutes (a movable clock), a page asks for the token again.
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Harness, startHarness } from '../support/app-harness.js'
import { launchBrowser } from '../support/browser.js'

const TOKEN = 'console-session-test-token'
let now = Date.parse('2025-03-01T12:00:00Z')
let h: Harness
let browser: Browser
let url: string

beforeAll(async () => {
  ;[h, browser] = await Promise.all([
    startHarness(
      `
rwx: { url: "http://127.0.0.1:9" }
store: sqlite:./unused.db
admin: { token: "${TOKEN}", console: { sessionMinutes: 5 } }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["session-test-hmac"] }
    rules: [{ secrets: [{ vault: ci, name: "{{ /name }}", value: /value }] }]
`,
      { clock: () => now },
    ),
    launchBrowser(),
  ])
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await browser?.close()
  await h?.close()
})

it('ends a session after admin.console.sessionMinutes and asks for the token again', async () => {
  const page = await browser.newPage()
  await page.goto(`${url}/ui/login`)
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect.poll(() => page.title()).toContain('Overview')

  now += 4 * 60_000
  await page.goto(`${url}/ui/events`)
  expect(await page.title()).toContain('Events')

  now += 2 * 60_000
  await page.goto(`${url}/ui/events`)
  expect(new URL(page.url()).pathname).toBe('/ui/login')
  expect(await page.getByRole('status').textContent()).toContain('session has ended')
  // the login page dropped the stale cookie: an action now goes to the login, and nothing changes
  const res = await page.request.post(`${url}/ui/actions/pause`, {
    form: { confirm: 'yes', reason: 'x' },
    maxRedirects: 0,
  })
  expect(res.status()).toBe(303)
  expect(res.headers().location).toMatch(/^\/ui\/login/)
  expect((await h.store.getControl()).paused).toBe(false)
})
