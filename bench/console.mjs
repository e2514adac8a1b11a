// node bench/console.mjs (after npm run build): console page times with 100,000 events in a SQLite store.
// Not part of npm run bench's baseline; prints the median and 95th percentile of 30 requests per page.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '#dist/app.js'
import { createPauseSwitch } from '#dist/delivery/pause.js'
import { parseConfig } from '#dist/load-config.js'
import { createLogger } from '#dist/log.js'
import { createMetrics } from '#dist/metrics.js'
import { createSealer } from '#dist/queue/crypto.js'
import { createSqliteStore } from '#dist/queue/sqlite/store.js'
import { buildSources } from '#dist/receive/sources.js'

const EVENTS = Number(process.env.CONSOLE_BENCH_EVENTS ?? 100_000)
const TOKEN = randomBytes(16).toString('hex')
const dir = mkdtempSync(join(tmpdir(), 'console-bench-'))
const config = parseConfig(
  `
rwx: { url: "http://127.0.0.1:9", token: x }
store: sqlite:${join(dir, 'relay.db')}
admin: { token: "${TOKEN}" }
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["bench-hmac-secret"] }
    rules: [{ secrets: [{ vault: ci, name: "{{ /name }}", value: /value }] }]
`,
  {},
)
const store = createSqliteStore({ path: join(dir, 'relay.db') })
const sealer = createSealer(randomBytes(32))
const t0 = Date.now() - EVENTS * 1000
const started = performance.now()
for (let i = 0; i < EVENTS; i += 500) {
  const batch = []
  for (let j = i; j < Math.min(EVENTS, i + 500); j++) {
    batch.push(
      store.enqueue({
        source: 'ci',
        eventId: `evt_${j}`,
        eventTime: t0 + j * 1000,
        receivedAt: t0 + j * 1000,
        secrets: [
          {
            vault: 'ci',
            name: `NAME_${j % 2000}`,
            sealed: sealer.seal('v', 'bench'),
            ref: null,
            fingerprint: null,
          },
        ],
        provenance: { verifier: 'hmac', keyId: 'secrets[0]', rules: ['rules[0].secrets[0]'] },
      }),
    )
  }
  await Promise.all(batch)
}
console.log(`filled ${EVENTS} events in ${Math.round(performance.now() - started)} ms`)

const metrics = createMetrics(store)
const app = await buildApp(config, {
  store,
  sealer,
  sources: buildSources(config.sources, {}),
  metrics,
  pause: createPauseSwitch({ store, clock: Date.now }),
  logger: createLogger('error'),
})
const login = await app.inject({ url: '/ui/login' })
const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)[1]
const jar = login.cookies.map((c) => `${c.name}=${c.value}`)
const session = await app.inject({
  method: 'POST',
  url: '/ui/login',
  headers: { cookie: jar.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
  payload: `_csrf=${encodeURIComponent(csrf)}&token=${TOKEN}`,
})
const cookie = [...jar, ...session.cookies.map((c) => `${c.name}=${c.value}`)].join('; ')
const pages = [
  '/ui',
  '/ui/secrets',
  '/ui/secrets/ci/NAME_7',
  '/ui/events',
  '/ui/events?status=queued',
  `/ui/events?event=evt_${EVENTS - 1}`,
  `/ui/events/ci/evt_${EVENTS >> 1}`,
  '/ui/dead',
]
const rows = []
for (const url of pages) {
  const times = []
  for (let i = 0; i < 30; i++) {
    const s = performance.now()
    const res = await app.inject({ url, headers: { cookie } })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`)
    times.push(performance.now() - s)
  }
  times.sort((a, b) => a - b)
  rows.push({ page: url, medianMs: +times[15].toFixed(1), p95Ms: +times[28].toFixed(1) })
}
console.table(rows)
await app.close()
await store.close()
rmSync(dir, { recursive: true, force: true })
