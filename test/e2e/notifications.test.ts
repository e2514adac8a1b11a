// Notifications through the real binary: a secret RWX refuses goes dead, and a signed secret.dead reaches
// a local receiver (after a 500), without the value in the notification, the logs or the metrics.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../notify/receiver.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type RelayProcess, runCli, startRelayProcess } from '../support/relay-process.js'
import { until } from '../support/until.js'

const TOKEN = `rwx-token-${randomUUID()}`
const HMAC_SECRET = `hmac-secret-${randomUUID()}`
const NOTIFY_WHSEC = `whsec_${randomBytes(32).toString('base64')}`
// shares no 4 characters with RWX's refusal, so the refusal's text is kept as the reason
const VALUE = `Zq${randomBytes(6).toString('hex')}`

let rwx: FakeRwx
let receiver: Receiver
let relay: RelayProcess | undefined
let dir: string

beforeAll(async () => {
  rwx = await startFakeRwx({ token: TOKEN })
  receiver = await startReceiver(NOTIFY_WHSEC)
  dir = mkdtempSync(join(tmpdir(), 'relay-notify-'))
})
afterAll(async () => {
  if (relay?.child.exitCode === null) await relay.kill('SIGKILL')
  await rwx?.close()
  await receiver?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('notifications from the relay binary', () => {
  it('a dead secret is announced, signed, retried after a 500, never with its value', async () => {
    rwx.rejectNames((n) => n === 'REFUSED')
    receiver.answers.push(500)
    const yaml = `
rwx: { url: "${rwx.url}" }
store: "sqlite:./data/relay.db"
logLevel: debug
rateLimit: { max: 0 }
delivery: { backoffBaseMs: 50, backoffMaxMs: 400, batchWindowMs: 10 }
notify: { url: "${receiver.url}", secret: "\${NOTIFY_WHSEC}", backoffBaseMs: 50, backoffMaxMs: 200 }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, prefix: "sha256=", secrets: ["${HMAC_SECRET}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`
    relay = await startRelayProcess(dir, yaml, { RWX_ACCESS_TOKEN: TOKEN, NOTIFY_WHSEC })
    const payload = join(dir, 'event.json')
    writeFileSync(payload, JSON.stringify({ name: 'REFUSED', value: VALUE }))
    const sent = await runCli(
      ['send', '--config', join(dir, 'relay.yaml'), 'ci', payload, '--url', relay.url],
      {
        env: { RWX_ACCESS_TOKEN: TOKEN, NOTIFY_WHSEC },
      },
    )
    expect(sent.code).toBe(0)
    const eventId = (JSON.parse(sent.out.slice(4)) as { event: string }).event

    await until(() => receiver.received.length === 2, 'a failed try and a second one')
    expect(receiver.received.map((r) => [r.status, r.verified])).toEqual([
      [500, true],
      [204, true],
    ])
    expect(receiver.received[0]!.headers['webhook-id']).toBe(receiver.received[1]!.headers['webhook-id'])
    expect(JSON.parse(receiver.received[1]!.body)).toMatchObject({
      type: 'secret.dead',
      vault: 'ci',
      name: 'REFUSED',
      source: 'ci',
      eventId,
    })
    const metrics = await (await fetch(`${relay.url}/metrics`)).text()
    expect(metrics).toMatch(/^relay_notifications_total\{kind="dead",outcome="sent"\} 1$/m)
    expect(metrics).toMatch(/^relay_notifications_total\{kind="dead",outcome="retry"\} 1$/m)
    expect(await relay.kill('SIGTERM')).toBe(0)
    for (const text of [...receiver.received.map((r) => r.body), relay.output(), metrics]) {
      expect(text).not.toContain(VALUE)
      expect(text).not.toContain(NOTIFY_WHSEC.slice('whsec_'.length))
    }
    expect(relay.output()).not.toContain(receiver.url)
  })
})
