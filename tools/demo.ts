// `npm run demo`: the whole path on one machine — signed sample events in, a local RWX stand-in receives them.
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay } from '#dist/relay.js'
import { startFakeRwx } from './fake-rwx.js'

const TOKEN = `demo-token-${randomBytes(8).toString('hex')}`
const STRIPE = `whsec_demo_${randomBytes(16).toString('hex')}`
const ROTATOR = `whsec_${randomBytes(24).toString('base64')}`
const HMAC = randomBytes(16).toString('hex')

const CONFIG = `
logLevel: error
rateLimit: { max: 0 }
delivery: { batchWindowMs: 50 }
sources:
  - id: stripe
    verify: { type: stripe, secrets: ["${STRIPE}"] }
    rules:
      - when: { /type: rotation.completed }
        secrets: [{ vault: payments, name: "{{ /data/object/name | upper }}", value: /data/object/value }]
  - id: rotator
    verify: { type: standard-webhooks, secrets: ["${ROTATOR}"] }
    rules:
      - secrets: [{ vault: "{{ /data/vault }}", name: "{{ /data/name }}", value: /data/value }]
  - id: ci
    verify: { type: hmac, header: x-hub-signature-256, prefix: "sha256=", secrets: ["${HMAC}"] }
    eventTime: /time
    rules:
      - secrets: [{ vault: ci, name: "{{ /name | slug }}", value: /value }]
`

const mask = (v: string) => `${v.slice(0, 3)}${'*'.repeat(Math.max(4, v.length - 3))}`
const hmacHex = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest('hex')

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vault-relay-demo-'))
  const rwx = await startFakeRwx({ token: TOKEN })
  writeFileSync(join(dir, 'relay.yaml'), CONFIG)
  const relay = await startRelay(
    {
      RELAY_CONFIG: join(dir, 'relay.yaml'),
      RELAY_STORE: `sqlite:${join(dir, 'relay.db')}`,
      RWX_API_URL: rwx.url,
      RWX_ACCESS_TOKEN: TOKEN,
      HOST: '127.0.0.1',
      PORT: '0',
    },
    dir,
  )
  console.log(`relay on ${relay.url}, RWX stand-in on ${rwx.url}\n`)
  const send = async (what: string, source: string, body: string, headers: Record<string, string>) => {
    const res = await fetch(`${relay.url}/hooks/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    })
    console.log(`${String(res.status).padEnd(4)} ${what.padEnd(52)} ${await res.text()}`)
  }
  try {
    const t = Math.floor(Date.now() / 1000)
    const stripe = JSON.stringify({
      id: 'evt_demo_1',
      type: 'rotation.completed',
      created: t,
      data: { object: { name: 'api_key', value: 'sk_demo_rotated_value_1' } },
    })
    await send('Stripe rotation.completed', 'stripe', stripe, {
      'stripe-signature': `t=${t},v1=${hmacHex(STRIPE, `${t}.${stripe}`)}`,
    })
    await send('Stripe replay of the same event', 'stripe', stripe, {
      'stripe-signature': `t=${t},v1=${hmacHex(STRIPE, `${t}.${stripe}`)}`,
    })
    await send('Stripe with a forged signature', 'stripe', stripe, {
      'stripe-signature': `t=${t},v1=${'0'.repeat(64)}`,
    })

    const sw = JSON.stringify({
      type: 'secret.rotated',
      data: { vault: 'ops', name: 'DEPLOY_KEY', value: 'ssh-demo-key' },
    })
    const swKey = Buffer.from(ROTATOR.slice('whsec_'.length), 'base64')
    const swSig = createHmac('sha256', swKey).update(`msg_demo.${t}.${sw}`).digest('base64')
    await send('Standard Webhooks secret.rotated', 'rotator', sw, {
      'webhook-id': 'msg_demo',
      'webhook-timestamp': String(t),
      'webhook-signature': `v1,${swSig}`,
    })

    for (const [time, value] of [
      [300, 'pg-password-newest'],
      [100, 'pg-password-oldest'],
      [200, 'pg-password-older'],
    ] as const) {
      const body = JSON.stringify({ name: 'Postgres Password', value, time })
      await send(`HMAC event, time ${time} (out of order)`, 'ci', body, {
        'x-hub-signature-256': `sha256=${hmacHex(HMAC, body)}`,
      })
    }

    await rwx.waitFor((writes) => writes.length >= 3, 15_000)
    await relay.close()
    console.log('\nRWX received (values masked):')
    for (const w of rwx.writes) {
      console.log(`  vault ${w.vault.padEnd(9)} ${w.name.padEnd(18)} v${w.version}  ${mask(w.secret)}`)
    }
    console.log(
      `\n${rwx.requests.length} RWX request(s). The older Postgres values were superseded, never sent.`,
    )
  } finally {
    await relay.close()
    await rwx.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`)
  process.exitCode = 1
})
