// End to end through the real process: the shipped Azure examples, Event Grid deliveries with Entra tokens
// or a query secret, and the real @azure/keyvault-secrets and @azure/identity against a local Key Vault.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { cloudEvent, deliver, eventGridEvent, preflight, validationEvent } from '../support/event-grid.js'
import { type FakeAzure, startFakeAzure } from '../support/fake-azure.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.js'
import { generateSigningKey } from '../support/signers.js'
import { until } from '../support/until.js'

const ADMIN = `admin-${randomUUID()}`
const APP = randomUUID()
const QUERY_SECRET = `eg-${randomBytes(16).toString('hex')}`
const ENTRA = 'azure-key-vault'
const CODE = 'azure-key-vault-code'

let az: FakeAzure
let rwx: FakeRwx
let relay: RelayProcess
let dir: string
const values: string[] = []
const tokens: string[] = []

/** Both shipped examples as one config, the Entra issuer moved to the local authority. */
function configFrom(authorityHost: string): string {
  const files = ['key-vault.yaml', 'key-vault-query-secret.yaml']
  const examples = files.map((f) => parse(readFileSync(join('examples/azure', f), 'utf8')))
  const sources = examples.flatMap((e) => e.sources)
  sources[0].verify.entra.authorityHost = authorityHost
  return stringify({
    ...examples[0],
    sources,
    azure: { disableInstanceDiscovery: true },
    delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, maxAttempts: 1000 },
  })
}

beforeAll(async () => {
  ;[az, rwx] = await Promise.all([startFakeAzure(), startFakeRwx({ token: `rwx-token-${randomUUID()}` })])
  dir = mkdtempSync(join(tmpdir(), 'relay-azure-e2e-'))
  writeFileSync(join(dir, 'ca.pem'), az.caPem)
  relay = await startRelayProcess(dir, configFrom(az.base), {
    RWX_API_URL: rwx.url,
    RWX_ACCESS_TOKEN: rwx.token,
    RELAY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'trace',
    ENTRA_TENANT_ID: az.tenantId,
    ENTRA_APP: APP,
    EVENT_GRID_SECRET: QUERY_SECRET,
    KEY_VAULT_URL: az.base,
    NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    // EnvironmentCredential (first in DefaultAzureCredential) with the local authority.
    AZURE_TENANT_ID: az.tenantId,
    AZURE_CLIENT_ID: az.clientId,
    AZURE_CLIENT_SECRET: az.clientSecret,
    AZURE_AUTHORITY_HOST: az.base,
  })
})
afterAll(async () => {
  if (relay !== undefined && relay.child.exitCode === null && relay.child.signalCode === null)
    await relay.kill('SIGKILL')
  await Promise.all([az?.close(), rwx?.close()])
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

const remember = (v: string) => {
  values.push(v)
  return v
}
const token = async (claims: Record<string, unknown> = {}, key = az.entraKey) => {
  const t = await az.eventGridToken(APP, claims, key)
  tokens.push(t)
  return t
}
const delivered = (name: string, value: string) =>
  rwx.waitFor((w) => w.some((x) => x.vault === 'production' && x.name === name && x.secret === value))
const written = (value: string) => rwx.writes.some((w) => w.secret === value)

async function admin(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${relay.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })
  return { status: res.status, text: await res.text() }
}
const adminTexts: string[] = []
async function settled(source: string, eventId: string, status: string): Promise<void> {
  await until(async () => {
    const { status: code, text } = await admin(`/admin/events/${source}/${eventId}`)
    adminTexts.push(text)
    const secrets = code === 200 ? (JSON.parse(text).secrets as { status: string }[]) : []
    return secrets.length > 0 && secrets.every((s) => s.status === status)
  }, `event ${eventId} to be ${status}`)
}
async function eventCount(): Promise<number> {
  const { text } = await admin('/admin/events?limit=500')
  adminTexts.push(text)
  return (JSON.parse(text).events as unknown[]).length
}

describe('Azure Key Vault through Event Grid end to end (shipped examples, real SDK, real process)', () => {
  it('a new version (Event Grid schema, Entra token) is read by version and written to RWX', async () => {
    const value = remember(`db-pw-${randomUUID()}`)
    const version = az.addVersion('database-password', value)
    const event = eventGridEvent(az.base, 'database-password', version)
    expect(await deliver(relay.url, ENTRA, [event], { token: await token() })).toEqual({
      status: 202,
      body: { event: event.id, secrets: 1 },
    })
    await delivered('DATABASE_PASSWORD', value)
    // The 401 challenge came first, then reads with the token the local Entra issued.
    expect(az.reads.some((r) => !r.authorized)).toBe(true)
    expect(az.reads.some((r) => r.authorized && r.name === 'database-password')).toBe(true)
  })

  it('a CloudEvent with the query secret, and a CloudEvents batch, each event queued under its own id', async () => {
    const one = remember(`api-${randomUUID()}`)
    const event = cloudEvent(az.base, 'api-token', az.addVersion('api-token', one))
    expect(
      await deliver(relay.url, CODE, event, {
        query: `code=${QUERY_SECRET}`,
        contentType: 'application/cloudevents+json; charset=utf-8',
      }),
    ).toEqual({ status: 202, body: { event: event.id, secrets: 1 } })
    await delivered('API-TOKEN', one)
    const [a, b] = [remember(`a-${randomUUID()}`), remember(`b-${randomUUID()}`)]
    const batch = [
      cloudEvent(az.base, 'svc-a', az.addVersion('svc-a', a)),
      cloudEvent(az.base, 'svc-b', az.addVersion('svc-b', b)),
    ]
    expect(
      await deliver(relay.url, CODE, batch, {
        query: `code=${QUERY_SECRET}`,
        contentType: 'application/cloudevents-batch+json',
      }),
    ).toEqual({ status: 202, body: { event: batch[0]!.id, events: batch.map((e) => e.id), secrets: 2 } })
    await delivered('SVC-A', a)
    await delivered('SVC-B', b)
  })

  it('an older version arriving after a newer one is never written (ordered by createdOn)', async () => {
    const now = Math.floor(Date.now() / 1000)
    const older = remember(`old-${randomUUID()}`)
    const newer = remember(`new-${randomUUID()}`)
    const v1 = az.addVersion('database-password', older, now + 100)
    const v2 = az.addVersion('database-password', newer, now + 110)
    const second = eventGridEvent(az.base, 'database-password', v2)
    expect((await deliver(relay.url, ENTRA, [second], { token: await token() })).status).toBe(202)
    await delivered('DATABASE_PASSWORD', newer)
    // Event Grid's retry of v1 comes later, with a later event time than v2's: the time cannot save it.
    const first = eventGridEvent(az.base, 'database-password', v1, {
      time: new Date(Date.now() + 1000).toISOString(),
    })
    expect((await deliver(relay.url, ENTRA, [first], { token: await token() })).status).toBe(202)
    await settled(ENTRA, first.id, 'superseded')
    expect(written(older)).toBe(false)
  })

  it('both handshakes succeed and queue nothing', async () => {
    const before = await eventCount()
    const code = randomUUID()
    expect(
      await deliver(relay.url, ENTRA, validationEvent(code), {
        token: await token(),
        aegEventType: 'SubscriptionValidation',
      }),
    ).toEqual({ status: 200, body: { validationResponse: code } })
    const options = await preflight(relay.url, CODE, `code=${QUERY_SECRET}`)
    expect(options.status).toBe(200)
    expect(options.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net')
    expect(options.headers.get('webhook-allowed-rate')).toBe('*')
    expect(options.headers.get('allow')).toBe('POST')
    expect((await preflight(relay.url, CODE, 'code=wrong')).status).toBe(401)
    expect(await eventCount()).toBe(before)
  })

  it('refuses with 401 and queues nothing: audience, app id, expiry, a stranger key, a wrong query secret', async () => {
    const before = await eventCount()
    const stranger = await generateSigningKey('RS256', az.entraKey.kid)
    const version = az.addVersion('database-password', remember(`never-${randomUUID()}`))
    const cases = [
      { token: await token({ aud: 'api://someone-else' }) },
      { token: await token({ appid: randomUUID() }) },
      { token: await token({ iat: 1_600_000_000, nbf: 1_600_000_000, exp: 1_600_003_600 }) },
      { token: await token({}, stranger) },
      { token: await token({ roles: [] }) },
    ]
    for (const d of cases) {
      const event = eventGridEvent(az.base, 'database-password', version)
      expect((await deliver(relay.url, ENTRA, [event], d)).status).toBe(401)
    }
    const event = cloudEvent(az.base, 'api-token', version)
    const wrong = await deliver(relay.url, CODE, event, {
      query: `code=${QUERY_SECRET}x`,
      contentType: 'application/cloudevents+json',
    })
    expect(wrong.status).toBe(401)
    expect(
      (await deliver(relay.url, CODE, event, { contentType: 'application/cloudevents+json' })).status,
    ).toBe(401)
    expect(await eventCount()).toBe(before)
  })

  it('SecretNearExpiry and SecretExpired are counted and logged; nothing is written', async () => {
    const before = await eventCount()
    const version = az.addVersion('database-password', remember(`expiring-${randomUUID()}`))
    for (const type of ['SecretNearExpiry', 'SecretExpired'] as const) {
      const event = eventGridEvent(az.base, 'database-password', version, { type })
      expect(await deliver(relay.url, ENTRA, [event], { token: await token() })).toEqual({
        status: 200,
        body: { event: event.id, secrets: 0, notices: [`Microsoft.KeyVault.${type}`] },
      })
    }
    expect(await eventCount()).toBe(before)
    const metrics = await admin('/metrics')
    expect(metrics.text).toContain(
      `relay_provider_notices_total{source="${ENTRA}",kind="Microsoft.KeyVault.SecretNearExpiry"} 1`,
    )
    expect(relay.output()).toMatch(/"notice":"Microsoft.KeyVault.SecretNearExpiry".*"msg":"provider notice"/)
  })

  it('no value, token, client secret or query secret in logs, metrics, store files or admin answers', async () => {
    expect(values.filter(written).length).toBeGreaterThan(3)
    const secrets = [...values, ...tokens, ...az.issued, az.clientSecret, QUERY_SECRET, rwx.token]
    const metrics = (await admin('/metrics')).text
    const scan = () => {
      const files = readdirSync(join(dir, 'data')).filter((f) => !f.endsWith('.key'))
      expect(files.length).toBeGreaterThan(0)
      for (const f of files) {
        const bytes = readFileSync(join(dir, 'data', f))
        for (const s of values) expect(bytes.includes(Buffer.from(s)), `${f} holds a value`).toBe(false)
        for (const s of [QUERY_SECRET, az.clientSecret, ...tokens])
          expect(bytes.includes(Buffer.from(s)), `${f} holds a secret`).toBe(false)
      }
    }
    scan()
    expect(await relay.kill('SIGTERM')).toBe(0)
    scan()
    const output = relay.output()
    expect(output).toContain('"level":10')
    for (const s of secrets) {
      expect(output.includes(s), 'a secret appeared in the output').toBe(false)
      expect(metrics.includes(s), 'a secret appeared in the metrics').toBe(false)
      expect(
        adminTexts.some((t) => t.includes(s)),
        'a secret appeared in an admin answer',
      ).toBe(false)
    }
  })
})
