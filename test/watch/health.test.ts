// The notifier's health listener, injected: /readyz waits for the watches' first list and the relay's
// JWKS (fetched by the real key source from a local stand-in), /metrics has only relay_watch_* series.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log.js'
import { buildHealthApp, startHealth } from '../../src/watch/health.js'
import { createWatchMetrics, senderEvents } from '../../src/watch/metrics.js'
import { createRelayKeys } from '../../src/watch/relay-keys.js'
import { freePort } from '../support/postgres.js'
import { generateEncryptionKey } from '../support/signers.js'

let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
})

/** A JWKS endpoint that answers 500 while `up()` is false. */
async function jwks(up: () => boolean): Promise<string> {
  const key = await generateEncryptionKey()
  const pub = await exportJWK(key.publicKey)
  server = createServer((_req, res) => {
    if (!up()) return res.writeHead(500).end()
    res.end(JSON.stringify({ keys: [{ ...pub, kid: 'k', use: 'enc', alg: 'ECDH-ES+A256KW' }] }))
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()))
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/.well-known/jwks.json`
}

const log = createLogger('silent')

describe('watch health', () => {
  it('/readyz is 503 until every watch has listed and the relay’s JWKS was fetched once; /healthz always 200', async () => {
    let synced = false
    let up = false
    const keys = createRelayKeys({ jwksUrl: await jwks(() => up), timeoutMs: 2_000 })
    const app = buildHealthApp({
      log,
      metrics: createWatchMetrics(() => 0),
      synced: () => synced,
      keysReady: () => keys.ready(),
    })
    const ready = () => app.inject({ method: 'GET', url: '/readyz' })
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)

    const notSynced = await ready()
    expect(notSynced.statusCode).toBe(503)
    expect(notSynced.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(notSynced.headers['retry-after']).toBe('1')
    expect(notSynced.json()).toMatchObject({ code: 'ERR_NOT_SYNCED' })

    synced = true
    expect((await ready()).json()).toMatchObject({ status: 503, code: 'ERR_KEYS_UNAVAILABLE' })
    up = true
    expect(await ready()).toMatchObject({ statusCode: 200 })
    expect((await ready()).json()).toEqual({ status: 'ready' })
    // Fetched once is enough: a relay briefly down does not take the notifier out of rotation.
    up = false
    keys.invalidate()
    expect((await ready()).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: '/nope' })).json()).toMatchObject({
      code: 'ERR_NOT_FOUND',
    })
    await app.close()
  })

  it('/metrics: pending changes, outcomes, last success, lists and restarts, all relay_watch_*', async () => {
    let pending = 7
    const metrics = createWatchMetrics(() => pending)
    const events = senderEvents(metrics)
    events.onOutcome('k8s-cnpg', 'retry')
    events.onOutcome('k8s-cnpg', 'retry')
    events.onOutcome('k8s-cnpg', 'superseded')
    events.onOutcome('k8s-cnpg', 'taken')
    events.onTaken('k8s-cnpg', 1_900_000_000_000)
    metrics.changes.inc({ source: 'k8s-cnpg' })
    metrics.lists.inc({ source: 'k8s-cnpg', namespace: 'app' })
    metrics.restarts.inc({ source: 'k8s-cnpg', namespace: 'app' })
    const app = buildHealthApp({ log, metrics, synced: () => true, keysReady: async () => {} })
    const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
    const text = await scrape()
    expect(text).toContain('relay_watch_pending_changes 7')
    expect(text).toContain('relay_watch_events_total{source="k8s-cnpg",outcome="retry"} 2')
    expect(text).toContain('relay_watch_events_total{source="k8s-cnpg",outcome="superseded"} 1')
    expect(text).toContain('relay_watch_last_send_success_timestamp_seconds 1900000000')
    expect(text).toContain('relay_watch_changes_seen_total{source="k8s-cnpg"} 1')
    expect(text).toContain('relay_watch_lists_total{source="k8s-cnpg",namespace="app"} 1')
    expect(text).toContain('relay_watch_restarts_total{source="k8s-cnpg",namespace="app"} 1')
    const names = text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0]!)
    expect(names.length).toBeGreaterThan(10)
    for (const n of names) expect(n).toMatch(/^relay_watch_/)
    pending = 0
    expect(await scrape()).toContain('relay_watch_pending_changes 0')
    await app.close()
  })

  it('port 0 serves nothing; another port listens on the host given', async () => {
    const deps = {
      log,
      metrics: createWatchMetrics(() => 0),
      synced: () => true,
      keysReady: async () => {},
    }
    expect(await startHealth({ host: '127.0.0.1', port: 0 }, deps)).toBeUndefined()
    const port = await freePort()
    const running = await startHealth({ host: '127.0.0.1', port }, deps)
    expect(running?.url).toBe(`http://127.0.0.1:${port}`)
    expect((await fetch(`${running!.url}/healthz`)).status).toBe(200)
    await running!.close()
  })
})
