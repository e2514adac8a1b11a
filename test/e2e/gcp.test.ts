// End to end through the real process: the shipped Google Cloud example, Pub/Sub pushes with ID tokens
// from a loopback issuer, the real @google-cloud/secret-manager client against a loopback Secret Manager,
// and values and tokens that never rest in the store, the logs, the metrics or the admin answers.
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exportJWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { strangerKey, versionEvent } from '../support/fake-pubsub.js'
import { deliveredTo, type GcpRelay, startGcpRelay } from '../support/gcp-relay.js'
import { runCli } from '../support/relay-process.js'
import { until } from '../support/until.js'

let gcp: GcpRelay
beforeAll(async () => {
  gcp = await startGcpRelay()
})
afterAll(async () => {
  await gcp?.close()
})

const dbValue = () => JSON.stringify({ username: 'app', password: gcp.remember(`db-pw-${randomUUID()}`) })
const password = (json: string) => (JSON.parse(json) as { password: string }).password
const events = async () =>
  JSON.parse(await gcp.adminGet('/events?source=gcp-secrets&limit=500')).events as unknown[]
const metrics = async () => (await fetch(`${gcp.relay.url}/metrics`)).text()

describe('Google Secret Manager end to end (shipped example, real client, real process)', () => {
  it('a new version reaches RWX: its exact version read at delivery, one field of the JSON', async () => {
    const value = dbValue()
    const { version, answer } = await gcp.addVersion(gcp.db, value)
    expect(answer).toMatchObject({ status: 202, body: { secrets: 1 } })
    await deliveredTo(gcp.rwx, 'DATABASE_PASSWORD', password(value))
    expect(gcp.sm.requests.filter((r) => r.path.endsWith(':access')).at(-1)).toEqual({
      method: 'GET',
      // Gated by `alias: latest`: read through the alias, whose answer names this version.
      path: `/v1/${gcp.db}/versions/latest:access`,
      authorized: true,
    })
    expect(gcp.rwx.secrets('production').get('DATABASE_PASSWORD')?.description).toContain(
      `versions/${version}`,
    )
    // The admin API shows where the value came from and how the push was verified, as for AWS.
    const shown = JSON.parse(
      await gcp.adminGet(`/events/gcp-secrets/${(answer.body as { event: string }).event}`),
    )
    expect(shown).toMatchObject({
      provenance: { verifier: 'google-pubsub', keyId: `jwks kid:${gcp.google.key.kid}` },
      secrets: [{ status: 'delivered', valueFrom: 'gcpSecretManager', rule: 'rules[0].secrets[0]' }],
    })
    const token = gcp.remember(`partner-${randomUUID()}`)
    expect((await gcp.addVersion(gcp.api, token)).answer.status).toBe(202)
    await deliveredTo(gcp.rwx, 'PARTNER_API_TOKEN', token)
  })

  it('an older version arriving after a newer one is never written', async () => {
    const older = dbValue()
    const newer = dbValue()
    const oldVersion = gcp.sm.add(gcp.db, older)
    const oldPublished = new Date()
    const { answer } = await gcp.addVersion(gcp.db, newer, new Date(oldPublished.getTime() + 1000))
    expect(answer.status).toBe(202)
    await deliveredTo(gcp.rwx, 'DATABASE_PASSWORD', password(newer))
    // Pub/Sub redelivers the older version's message late.
    const late = await gcp.push({ ...versionEvent(gcp.db, oldVersion), publishTime: oldPublished })
    expect(late.status).toBeLessThan(300)
    // And an ENABLE of the old version, published now (newest event time): `alias: latest` still refuses it.
    const enable = await gcp.push(versionEvent(gcp.db, oldVersion, { eventType: 'SECRET_VERSION_ENABLE' }))
    expect(enable.status).toBe(202)
    const id = (enable.body as { event: string }).event
    await until(
      async () => (await gcp.adminGet(`/events/gcp-secrets/${id}`)).includes('"superseded"'),
      'superseded',
    )
    expect(gcp.rwx.writes.some((w) => w.secret === password(older))).toBe(false)
    expect(gcp.rwx.secrets('production').get('DATABASE_PASSWORD')?.secret).toBe(password(newer))
  })

  it('TOPIC_CONFIGURED is acknowledged and queues nothing', async () => {
    const before = (await events()).length
    const answer = await gcp.push({ attributes: { eventType: 'TOPIC_CONFIGURED' } })
    expect(answer).toMatchObject({
      status: 200,
      body: { handled: expect.stringMatching(/TOPIC_CONFIGURED/) },
    })
    expect((await events()).length).toBe(before)
  })

  it('SECRET_ROTATE is counted and logged, and writes nothing; DISABLE writes nothing', async () => {
    const writes = gcp.rwx.writes.length
    const before = (await events()).length
    const rotate = await gcp.push({
      attributes: { eventType: 'SECRET_ROTATE', secretId: gcp.db },
      data: { name: gcp.db },
    })
    expect(rotate).toMatchObject({ status: 200, body: { secrets: 0, notices: ['rotation-due'] } })
    const disable = await gcp.push(versionEvent(gcp.db, 1, { eventType: 'SECRET_VERSION_DISABLE' }))
    expect(disable).toMatchObject({ status: 200, body: { secrets: 0 } })
    expect(await metrics()).toMatch(
      /relay_provider_notices_total\{source="gcp-secrets",kind="rotation-due"\} 1/,
    )
    expect(gcp.relay.output()).toMatch(/"notice":"rotation-due".*"msg":"provider notice"/)
    expect((await events()).length).toBe(before)
    expect(gcp.rwx.writes.length).toBe(writes)
  })

  it('refuses with 401 and queues nothing: wrong audience, another account, expired, a stranger with the right kid', async () => {
    const before = (await events()).length
    const past = Math.floor(Date.now() / 1000) - 7200
    const stranger = await strangerKey(gcp.google.key.kid)
    const strangerToken = gcp.remember(
      await gcp.google.token({ aud: gcp.audience, email: gcp.pusher }, stranger),
    )
    const message = () => versionEvent(gcp.db, gcp.sm.add(gcp.db, dbValue()))
    const refusals = [
      await gcp.push(message(), { aud: 'https://elsewhere.example/hooks/gcp-secrets' }),
      await gcp.push(message(), { email: 'intruder@other-project.iam.gserviceaccount.com' }),
      await gcp.push(message(), { iat: past, exp: past + 3600 }),
    ]
    const res = await fetch(`${gcp.relay.url}/hooks/gcp-secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${strangerToken}` },
      body: JSON.stringify({ message: { messageId: '1', publishTime: new Date().toISOString() } }),
    })
    refusals.push({ status: res.status, body: await res.json() })
    for (const r of refusals) {
      expect(r.status).toBe(401)
      expect(r.body).toMatchObject({ status: 401 })
    }
    expect((await events()).length).toBe(before)
  })

  it('refuses a "no wrapper" push with a problem naming the fix', async () => {
    const token = gcp.remember(await gcp.google.token({ aud: gcp.audience, email: gcp.pusher }))
    const res = await fetch(`${gcp.relay.url}/hooks/gcp-secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-goog-pubsub-message-id': '9' },
      body: JSON.stringify({ name: `${gcp.db}/versions/1` }),
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/problem\+json/)
    expect(((await res.json()) as { detail: string }).detail).toMatch(/--push-no-wrapper/)
  })

  it('check lists the source; send signs a test push only with a local key', async () => {
    const check = await runCli(['check', '--config', gcp.configFile], { env: gcp.env })
    expect(check.code).toBe(0)
    expect(check.out).toContain('POST /hooks/gcp-secrets  verify=google-pubsub')
    expect(check.out).toContain('gcpSecretManager {{ /message/attributes/secretId }}')
    expect(check.out).toContain('-> notice rotation-due')
    const value = dbValue()
    const version = gcp.sm.add(gcp.db, value)
    const message = join(gcp.dir, 'push.json')
    writeFileSync(message, JSON.stringify(versionEvent(gcp.db, version)))
    const send = (...extra: string[]) =>
      runCli(['send', '--config', gcp.configFile, 'gcp-secrets', message, '--url', gcp.relay.url, ...extra], {
        env: gcp.env,
      })
    const unsigned = await send()
    expect(unsigned.code).toBe(2)
    expect(unsigned.err).toMatch(/owns none/)
    const key = join(gcp.dir, 'local-issuer.jwk')
    writeFileSync(
      key,
      JSON.stringify({ ...(await exportJWK(gcp.google.key.privateKey)), kid: gcp.google.key.kid }),
    )
    const sent = await send('--key', key, '--json')
    expect(sent.code, sent.err).toBe(0)
    expect(JSON.parse(sent.out)).toMatchObject({ status: 202, body: { secrets: 1 } })
    await deliveredTo(gcp.rwx, 'DATABASE_PASSWORD', password(value))
  })

  it('never shows a value or token in the store files, admin answers, metrics or trace-level log', async () => {
    // a value as the relay read it too: the base64 payload of Secret Manager's answer
    expect(gcp.sm.payloads.length).toBeGreaterThan(2)
    const leaks = (text: string | Buffer) =>
      [...gcp.values, ...gcp.sm.payloads].filter((v) => text.includes(v))
    expect(gcp.values.filter((v) => gcp.rwx.writes.some((w) => w.secret.includes(v))).length).toBeGreaterThan(
      2,
    )
    const list = await gcp.adminGet('/events?source=gcp-secrets&limit=500')
    expect(leaks(list)).toEqual([])
    const listed = JSON.parse(list).events as { event: string }[]
    expect(listed.length).toBeGreaterThan(3)
    for (const e of listed) {
      const shown = await gcp.adminGet(`/events/gcp-secrets/${encodeURIComponent(e.event)}`)
      expect(shown).toContain('"valueFrom":"gcpSecretManager"')
      expect(leaks(shown)).toEqual([])
    }
    expect(leaks(await metrics())).toEqual([])
    const scan = () => {
      const files = readdirSync(join(gcp.dir, 'data')).filter((n) => !n.endsWith('.key'))
      expect(files.length).toBeGreaterThan(0)
      for (const f of files) expect(leaks(readFileSync(join(gcp.dir, 'data', f))), f).toEqual([])
    }
    scan()
    expect(await gcp.relay.kill('SIGTERM')).toBe(0)
    scan()
    const output = gcp.relay.output()
    expect(output).toContain('"level":10')
    expect(leaks(output)).toEqual([])
    // Every call stayed on loopback: the stand-in saw the client's calls, signed with the key file.
    expect(gcp.sm.requests.every((r) => r.authorized)).toBe(true)
  })
})
