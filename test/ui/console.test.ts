// The console in a real Chromium against a real relay (in this process: real store, worker, fake RWX and
// Secrets Manager): login, an event delivered, the inventory and a secret's timeline, a reconciled secret
// resynced, a dead letter retried, dead letters discarded (one, then a group), pause and resume, CSRF, read-only, no value or secret in any page, and
// axe-core finding no serious issue.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hmacSignature } from '../../src/cli/sign.js'
import { type RunningRelay, startRelay } from '../../src/relay.js'
import { sessionKey } from '../../src/ui/session.js'
import { launchBrowser, screenshot, seriousViolations } from '../support/browser.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type FakeSecretsManager, startFakeSecretsManager } from '../support/fake-secrets-manager.js'
import { until } from '../support/until.js'

const ADMIN = `admin-${randomUUID()}`
const READER = `reader-${randomUUID()}`
const RWX_TOKEN = `rwx-${randomUUID()}`
const HMAC = `hmac-${randomUUID()}`
/** Every value delivered here: no page may show one. */
const values: string[] = []
/** The HTML of every page the tests saw. */
const pages = new Map<string, string>()

let dir: string
let rwx: FakeRwx
let sm: FakeSecretsManager
let relay: RunningRelay
let browser: Browser
let admin: BrowserContext
let page: Page
/** The reconciled secret's ARN in the local Secrets Manager. */
let pulled: string

const yaml = (rwxUrl: string) => `
rwx: { url: "${rwxUrl}" }
store: sqlite:./data/relay.db
logLevel: error
rateLimit: { max: 0 }
admin: { token: "${ADMIN}", readOnlyToken: "${READER}" }
delivery: { backoffBaseMs: 50, backoffMaxMs: 200, batchWindowMs: 10, maxAttempts: 2 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC}"] }
    rules:
      - when: { /kind: plain }
        secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
      - when: { /kind: aws }
        secrets: [{ vault: ci, name: "{{ /name }}", value: { awsSecretsManager: { secretId: "{{ /arn }}" } } }]
  - id: aws-pull
    reconcile:
      every: 1h
      jitter: 0
      secrets:
        - { vault: ops, name: DB_ROOT, value: { awsSecretsManager: { secretId: "${pulled}" } } }
`

async function post(payload: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(payload)
  const res = await fetch(`${relay.url}/hooks/ci`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sig': hmacSignature(HMAC, body, { prefix: 'sha256=' }),
    },
    body,
  })
  expect(res.status).toBe(202)
  return ((await res.json()) as { event: string }).event
}

/** Opens a console path and keeps its HTML for the leak check. */
async function open(p: Page, path: string): Promise<string> {
  await p.goto(`${relay.url}${path}`)
  const html = await p.content()
  pages.set(`${p === page ? 'admin' : 'other'} ${path}`, html)
  return html
}

async function login(p: Page, token: string): Promise<void> {
  await p.goto(`${relay.url}/ui/login`)
  await p.getByLabel('Admin token').fill(token)
  await p.getByRole('button', { name: 'Log in' }).click()
}

async function confirm(p: Page): Promise<void> {
  await expect.poll(() => p.title()).toContain('Confirm')
  pages.set(`confirm ${pages.size}`, await p.content())
  await p.getByRole('button', { name: /^Yes/ }).click()
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relay-ui-'))
  ;[rwx, sm, browser] = await Promise.all([
    startFakeRwx({ token: RWX_TOKEN }),
    startFakeSecretsManager(),
    launchBrowser(),
  ])
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
    AWS_ACCESS_KEY_ID: 'AKIDUITEST',
    AWS_SECRET_ACCESS_KEY: 'ui-test-secret-access-key',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  })
  pulled = sm.create('ops/db-root', values[values.push(`pulled-${randomBytes(12).toString('hex')}`) - 1]!).arn
  writeFileSync(join(dir, 'relay.yaml'), yaml(rwx.url))
  relay = await startRelay({ RWX_ACCESS_TOKEN: RWX_TOKEN, PORT: '0', HOST: '127.0.0.1' }, dir)
  admin = await browser.newContext()
  page = await admin.newPage()
})

afterAll(async () => {
  await browser?.close()
  await relay?.close()
  await Promise.all([rwx?.close(), sm?.close()])
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('console', () => {
  it('refuses a wrong token and keeps every page behind the login', async () => {
    await open(page, '/ui/secrets')
    expect(new URL(page.url()).pathname).toBe('/ui/login')
    await login(page, `not-${ADMIN}`)
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not accepted')
    pages.set('refused', await page.content())
    await screenshot(page, 'console-login')
    expect((await admin.cookies()).find((c) => c.name === 'vr_session')).toBeUndefined()
  })

  it('logs in with the admin token to a signed, HttpOnly, SameSite=Strict session cookie', async () => {
    await login(page, ADMIN)
    await expect.poll(() => page.title()).toContain('Overview')
    const cookie = (await admin.cookies()).find((c) => c.name === 'vr_session')
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' })
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000)
    const res = await page.request.get(`${relay.url}/ui`)
    expect(res.headers()['content-security-policy']).toContain("default-src 'none'")
    expect(res.headers()['x-content-type-options']).toBe('nosniff')
  })

  it('shows an event arrive and become delivered, with its provenance', async () => {
    const value = values[values.push(`plain-${randomBytes(12).toString('hex')}`) - 1]!
    const eventId = await post({ kind: 'plain', name: 'API_KEY', value })
    await open(page, `/ui/events?source=ci&event=${eventId}`)
    await page.getByRole('link', { name: eventId }).click()
    await until(
      async () => (await open(page, `/ui/events/ci/${eventId}`)).includes('badge-delivered'),
      'delivered',
    )
    const text = await page.locator('main').textContent()
    expect(text).toContain('hmac')
    expect(text).toContain('secrets[0]')
    expect(text).toContain('rules[0].secrets[0]')
    expect(text).toMatch(/delivered\s*200/)
    await screenshot(page, 'console-event')
    const written = rwx.secrets('ci').get('API_KEY')!.version
    await open(page, '/ui/secrets?state=in-sync')
    const row = await page.getByRole('row', { name: /API_KEY/ }).textContent()
    expect(row).toContain('in-sync')
    expect(row).toContain('ci')
    expect(row).toContain(String(written))
    await screenshot(page, 'console-secrets')
    await page.getByRole('link', { name: 'API_KEY' }).click()
    await expect.poll(() => page.title()).toContain('Secret ci / API_KEY')
    pages.set('secret API_KEY', await page.content())
    expect(await page.locator('#written').textContent()).toContain(String(written))
    const timeline = (await page.locator('#timeline').textContent()) ?? ''
    expect(timeline).toContain('value arrived')
    expect(timeline).toMatch(/attempt\s*delivered\s*RWX 200 version \d+/)
    expect(timeline).toContain(`ci / ${eventId}`)
    expect(await page.getByRole('button', { name: 'Resync…' }).count()).toBe(0)
    await screenshot(page, 'console-secret')
  })

  it('resyncs a reconciled AWS secret from its page: the new version is queued and delivered', async () => {
    await until(async () => rwx.secrets('ops').get('DB_ROOT') !== undefined, 'first sweep delivered')
    await until(
      async () => (await open(page, '/ui/secrets/ops/DB_ROOT')).includes('badge-in-sync'),
      'in sync',
    )
    const value = values[values.push(`rotated-${randomBytes(12).toString('hex')}`) - 1]!
    const version = sm.putPending(pulled, value)
    sm.promote(pulled, version)
    await page.getByRole('button', { name: 'Resync…' }).click()
    await confirm(page)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/ui/secrets/ops/DB_ROOT')
    await until(async () => rwx.secrets('ops').get('DB_ROOT')?.secret === value, 'new version delivered')
    await until(async () => {
      const html = await open(page, '/ui/secrets/ops/DB_ROOT')
      return html.includes('badge-in-sync') && html.includes(version)
    }, 'the page shows the new version in sync')
    expect(await page.locator('#source-version').textContent()).toBe(version)
    expect(await page.locator('#timeline').textContent()).toContain(`reconcile:ops/DB_ROOT:${version}`)
    await open(page, '/ui/secrets?source=aws-pull')
    await page.getByRole('button', { name: 'Resync source…' }).click()
    await confirm(page)
    await expect.poll(() => page.url()).toContain('/ui/secrets?source=aws-pull')
    await open(page, '/ui')
    const audit = await page.locator('#audit').textContent()
    expect(audit).toMatch(/resync\s*ops\/DB_ROOT\s*1 read, 1 queued/)
    expect(audit).toMatch(/resync\s*source aws-pull\s*1 read, 0 queued/)
    expect(rwx.secrets('ops').get('DB_ROOT')?.secret).toBe(value)
    expect((await page.request.get(`${relay.url}/ui/secrets/ops/NOT_THERE`)).status()).toBe(404)
    const csrf = await page.locator('input[name=_csrf]').first().getAttribute('value')
    const undeclared = await page.request.post(`${relay.url}/ui/actions/resync`, {
      form: { _csrf: csrf!, confirm: 'yes', target: 'ci/API_KEY' },
    })
    expect(undeclared.status()).toBe(404)
    expect(await undeclared.text()).toContain('no reconciling source declares ci/API_KEY')
  })

  it('retries a dead letter from the page and sees it delivered', async () => {
    const value = values[values.push(`aws-${randomBytes(12).toString('hex')}`) - 1]!
    const { arn } = sm.create('ui/db-password', value)
    rwx.rejectNames((n) => n === 'DB_PASSWORD')
    const eventId = await post({ kind: 'aws', name: 'DB_PASSWORD', arn })
    await until(async () => (await open(page, '/ui/dead')).includes(eventId), 'dead letter listed')
    await screenshot(page, 'console-dead-letters')
    rwx.rejectNames(null)
    await page.getByRole('button', { name: `Retry ci / ${eventId}` }).click()
    await confirm(page)
    await expect.poll(() => page.url()).toContain(`/ui/events/ci/${eventId}`)
    await until(
      async () => (await open(page, `/ui/events/ci/${eventId}`)).includes('badge-delivered'),
      'delivered',
    )
    expect(rwx.secrets('ci').get('DB_PASSWORD')).toBeDefined()
  })

  it('discards a dead letter from its row, then a group: both show discarded, gone from dead letters', async () => {
    const valueA = values[values.push(`gone-a-${randomBytes(12).toString('hex')}`) - 1]!
    const valueB = values[values.push(`gone-b-${randomBytes(12).toString('hex')}`) - 1]!
    rwx.rejectNames((n) => n.startsWith('GONE_'))
    const a = await post({ kind: 'plain', name: 'GONE_A', value: valueA })
    const b = await post({ kind: 'plain', name: 'GONE_B', value: valueB })
    await until(async () => {
      const html = await open(page, '/ui/dead')
      return html.includes(a) && html.includes(b)
    }, 'both dead letters listed')
    rwx.rejectNames(null)
    await page.getByRole('button', { name: `Discard ci / ${a}` }).click()
    await confirm(page)
    await expect.poll(() => page.url()).toContain(`/ui/events/ci/${a}`)
    expect(await open(page, `/ui/events/ci/${a}`)).toContain('badge-discarded')
    const dead = await open(page, '/ui/dead')
    expect(dead).not.toContain(a)
    expect(dead).toContain(b)
    expect(await page.getByRole('button', { name: /^Discard all/ }).count()).toBe(1)
    await page.getByRole('button', { name: /^Discard all 1/ }).click()
    await confirm(page)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/ui/dead')
    expect(await page.locator('main').textContent()).toContain('No dead letter.')
    expect(await open(page, `/ui/events/ci/${b}`)).toContain('badge-discarded')
    expect(rwx.secrets('ci').get('GONE_A')).toBeUndefined()
    expect(rwx.secrets('ci').get('GONE_B')).toBeUndefined()
    await open(page, '/ui')
    const audit = await page.locator('#audit').textContent()
    expect(audit).toMatch(new RegExp(`discard\\s*ci/${a}\\s*1 discarded`))
    expect(audit).toMatch(/discard-dead\s*dead of “[^”]+”\s*1 events, 1 discarded/)
  })

  it('pauses with a reason shown on the overview, resumes, and records both in the audit list', async () => {
    await open(page, '/ui')
    await page.getByLabel('Reason').fill('RWX maintenance window')
    await page.getByRole('button', { name: 'Pause delivery…' }).click()
    await confirm(page)
    await expect.poll(() => page.locator('#delivery-state').textContent()).toContain('paused')
    expect(await page.locator('#pause-reason').textContent()).toBe('RWX maintenance window')
    pages.set('paused', await page.content())
    await screenshot(page, 'console-overview-paused')
    await page.getByRole('button', { name: 'Resume delivery…' }).click()
    await confirm(page)
    await expect.poll(() => page.locator('#delivery-state').textContent()).toContain('running')
    const audit = await page.locator('#audit').textContent()
    expect(audit).toMatch(/admin:[0-9a-f]{12}\s*resume/)
    expect(audit).toContain('RWX maintenance window')
    expect(audit).toMatch(/retry\s*ci\//)
    await screenshot(page, 'console-overview')
    await page.setViewportSize({ width: 390, height: 844 })
    await screenshot(page, 'console-overview-phone')
    await page.setViewportSize({ width: 1280, height: 720 })
  })

  it('refuses an action without a CSRF token (403), even with a valid session', async () => {
    const form = { confirm: 'yes', reason: 'no token' }
    const missing = await page.request.post(`${relay.url}/ui/actions/pause`, { form })
    expect(missing.status()).toBe(403)
    const forged = await page.request.post(`${relay.url}/ui/actions/pause`, {
      form: { ...form, _csrf: 'forged' },
    })
    expect(forged.status()).toBe(403)
    expect(await forged.text()).toContain('CSRF')
    const status = await fetch(`${relay.url}/admin/status`, { headers: { authorization: `Bearer ${ADMIN}` } })
    expect(((await status.json()) as { paused: boolean }).paused).toBe(false)
  })

  it('lets the read-only token see every page but not act', async () => {
    const ctx = await browser.newContext()
    const reader = await ctx.newPage()
    await login(reader, READER)
    await expect.poll(() => reader.title()).toContain('Overview')
    expect(await reader.locator('main').textContent()).toContain('Read-only session')
    expect(await reader.getByRole('button', { name: 'Pause delivery…' }).count()).toBe(0)
    const csrf = await reader.locator('input[name=_csrf]').first().getAttribute('value')
    const res = await reader.request.post(`${relay.url}/ui/actions/pause`, {
      form: { _csrf: csrf!, confirm: 'yes', reason: 'reader' },
    })
    expect(res.status()).toBe(403)
    await reader.goto(`${relay.url}/ui/secrets/ops/DB_ROOT`)
    expect(await reader.getByRole('button', { name: 'Resync…' }).count()).toBe(0)
    const fresh = await reader.locator('input[name=_csrf]').first().getAttribute('value')
    const resync = await reader.request.post(`${relay.url}/ui/actions/resync`, {
      form: { _csrf: fresh!, confirm: 'yes', target: 'ops/DB_ROOT' },
    })
    expect(resync.status()).toBe(403)
    pages.set('reader', await reader.content())
    await ctx.close()
  })

  it('renders no value, signing secret, token or session key on any page', async () => {
    for (const path of [
      '/ui',
      '/ui/secrets',
      '/ui/secrets/ci/API_KEY',
      '/ui/secrets/ops/DB_ROOT',
      '/ui/events',
      '/ui/dead',
      '/ui/events?status=delivered',
    ])
      await open(page, path)
    const key = sessionKey(ADMIN, READER)
    const secrets = [
      ...values,
      ADMIN,
      READER,
      RWX_TOKEN,
      HMAC,
      key.toString('hex'),
      key.toString('base64'),
      key.toString('base64url'),
    ]
    expect(pages.size).toBeGreaterThan(8)
    for (const [name, html] of pages)
      for (const s of secrets) expect(html.includes(s), `${name} shows a secret`).toBe(false)
  })

  it('finds no serious or critical accessibility issue (axe-core) on any page', async () => {
    const found: Record<string, unknown> = {}
    for (const path of [
      '/ui',
      '/ui/secrets',
      '/ui/secrets/ops/DB_ROOT',
      '/ui/events',
      '/ui/dead',
      `/ui/events?status=delivered`,
    ]) {
      await open(page, path)
      const v = await seriousViolations(page)
      if (v.length > 0) found[path] = v
    }
    const event = await page.locator('#events a').first().getAttribute('href')
    await open(page, event!)
    const v = await seriousViolations(page)
    if (v.length > 0) found[event!] = v
    await page.getByRole('button', { name: 'Log out' }).click()
    await expect.poll(() => page.title()).toContain('Log in')
    const l = await seriousViolations(page)
    if (l.length > 0) found.login = l
    expect(found).toEqual({})
  })
})
