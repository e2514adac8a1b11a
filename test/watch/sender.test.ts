// The notifier's sender against a local relay stand-in that decrypts what it gets: order per Secret,
// retries on 5xx/429/unreachable, keys fetched again when a body is refused, 422 given up, and at most
// two changes held per Secret however long the relay is down.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { compactDecrypt, exportJWK, importPKCS8 } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log.js'
import type { SecretEvent } from '../../src/watch/changes.js'
import { createRelayKeys } from '../../src/watch/relay-keys.js'
import { createSender, type Sender, type SendOutcome } from '../../src/watch/sender.js'
import { type EncryptionKey, generateEncryptionKey } from '../support/signers.js'
import { until } from '../support/until.js'

interface Received {
  auth: string | undefined
  path: string
  event: SecretEvent
}

let server: Server | undefined
let sender: Sender | undefined
afterEach(async () => {
  sender?.stop()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
})

/** A relay stand-in: answers from `script` (then 202), serves `keys()` as its JWKS, records what it decrypted. */
async function relay(
  key: () => EncryptionKey,
  script: { status: number; headers?: Record<string, string>; body?: unknown }[],
  /** While true, every POST is answered 503 (the relay is up but cannot take events). */
  down: () => boolean = () => false,
) {
  const received: Received[] = []
  const counts = { jwks: 0, posts: 0 }
  server = createServer(async (req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      counts.jwks += 1
      const pub = await exportJWK(key().publicKey)
      return res.end(JSON.stringify({ keys: [{ ...pub, kid: 'k', use: 'enc', alg: 'ECDH-ES+A256KW' }] }))
    }
    counts.posts += 1
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const next = down() ? { status: 503 } : (script.shift() ?? { status: 202 })
    if (next.status === 202) {
      const privateKey = await importPKCS8(key().privatePem, 'ECDH-ES+A256KW')
      const decrypted = await compactDecrypt(Buffer.concat(chunks).toString(), privateKey).catch(
        () => undefined,
      )
      // As the relay: a body it cannot decrypt is refused.
      if (decrypted === undefined) return res.writeHead(401).end('{"code":"ERR_TOKEN_INVALID"}')
      const { plaintext } = decrypted
      received.push({
        auth: req.headers.authorization,
        path: req.url ?? '',
        event: JSON.parse(new TextDecoder().decode(plaintext)),
      })
    }
    res
      .writeHead(next.status, { 'content-type': 'application/json', ...next.headers })
      .end(JSON.stringify(next.body ?? {}))
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()))
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, received, counts }
}

let logged = ''
const sink = new Writable({
  write(chunk, _enc, cb) {
    logged += String(chunk)
    cb()
  },
})

const outcomes: { source: string; outcome: SendOutcome }[] = []

function start(url: string, token: () => string = () => 'sa-token') {
  outcomes.length = 0
  sender = createSender({
    events: { onOutcome: (source, outcome) => outcomes.push({ source, outcome }) },
    relay: { url, tokenFile: '/unused', timeoutMs: 2_000 },
    retry: { baseMs: 5, maxMs: 20 },
    token,
    keys: createRelayKeys({ jwksUrl: `${url}/.well-known/jwks.json`, timeoutMs: 2_000 }),
    log: createLogger('info', sink),
  })
  return sender
}

const event = (uid: string, rv: number): SecretEvent => ({
  type: 'secret.changed',
  id: `${uid}:${rv}`,
  time: new Date(1_900_000_000_000 + rv).toISOString(),
  namespace: 'app',
  name: uid,
  uid,
  resourceVersion: String(rv),
  labels: {},
  data: { password: `pw-${uid}-${rv}` },
})

describe('watch sender', () => {
  it('retries 503, 429 and 500 until taken, keeping each Secret’s changes in order', async () => {
    const key = await generateEncryptionKey()
    const r = await relay(
      () => key,
      [{ status: 503, headers: { 'retry-after': '0' } }, { status: 429 }, { status: 500 }],
    )
    const s = start(r.url)
    s.send('src', event('a', 1))
    s.send('src', event('b', 1))
    // a:2 waits behind a:1, and goes once a:1 is taken.
    await until(() => r.received.some((x) => x.event.id === 'a:1'), 'a:1 to be taken')
    s.send('src', event('a', 2))
    await until(() => s.pending() === 0, 'every change to be taken')
    expect(r.received.filter((x) => x.event.uid === 'a').map((x) => x.event.resourceVersion)).toEqual([
      '1',
      '2',
    ])
    expect(r.received.map((x) => x.event.id).sort()).toEqual(['a:1', 'a:2', 'b:1'])
    expect(r.received[0]).toMatchObject({ auth: 'Bearer sa-token', path: '/hooks/src' })
    expect(r.received[0]!.event.data).toEqual({ password: expect.stringMatching(/^pw-/) })
    expect(r.counts.posts).toBe(6)
    expect(outcomes.filter((o) => o.outcome === 'retry')).toHaveLength(3)
    expect(outcomes.filter((o) => o.outcome === 'taken')).toHaveLength(3)
  })

  it('the relay down: many rapid changes hold at most two per Secret, and the newest arrives last', async () => {
    const key = await generateEncryptionKey()
    let down = true
    const r = await relay(
      () => key,
      [],
      () => down,
    )
    const s = start(r.url)
    s.send('src', event('g', 1))
    await until(() => r.counts.posts >= 2, 'the first change to be retried')
    for (let rv = 2; rv <= 500; rv++) {
      s.send('src', event('g', rv))
      if (rv % 50 === 0) await new Promise((done) => setImmediate(done))
      expect(s.pending()).toBeLessThanOrEqual(2)
    }
    s.send('src', event('h', 1))
    expect(s.pending()).toBe(3)
    // Each change but the one in flight and the newest was replaced before it was sent.
    expect(outcomes.filter((o) => o.outcome === 'superseded')).toHaveLength(498)
    down = false
    await until(() => s.pending() === 0, 'the relay to take what is held')
    const g = r.received.filter((x) => x.event.uid === 'g').map((x) => x.event.id)
    expect(g).toEqual(['g:1', 'g:500'])
    expect(g.at(-1)).toBe('g:500')
    expect(r.received.find((x) => x.event.id === 'g:500')!.event.data).toEqual({ password: 'pw-g-500' })
  })

  it('a deleted Secret drops its waiting change and stops retrying the one in flight', async () => {
    const key = await generateEncryptionKey()
    let down = true
    const r = await relay(
      () => key,
      [],
      () => down,
    )
    const s = start(r.url)
    s.send('src', event('k', 1))
    s.send('src', event('k', 2))
    await until(() => r.counts.posts >= 2, 'the first change to be retried')
    expect(s.pending()).toBe(2)
    s.forget('src', 'k')
    expect(s.pending()).toBe(1)
    await until(() => s.pending() === 0, 'the change in flight to be given up')
    expect(outcomes.filter((o) => o.outcome === 'dropped')).toHaveLength(2)
    down = false
    // Another Secret's change, sent and taken after: nothing of k went with or before it.
    s.send('src', event('m', 1))
    await until(() => s.pending() === 0, 'm to be taken')
    expect(r.received.map((x) => x.event.id)).toEqual(['m:1'])
  })

  it('fetches the relay’s keys again when a body is refused (the key was rotated), then delivers', async () => {
    const [old, rotated] = [await generateEncryptionKey(), await generateEncryptionKey()]
    // The first POST is refused; from then on the relay holds (and publishes) only the rotated key.
    const r = await relay(
      () => (r.counts.posts >= 1 ? rotated : old),
      [{ status: 401, body: { code: 'ERR_TOKEN_INVALID' } }],
    )
    const s = start(r.url)
    s.send('src', event('c', 1))
    await until(() => s.pending() === 0, 'the change to be taken')
    expect(r.counts.jwks).toBe(2)
    expect(r.received.map((x) => x.event.id)).toEqual(['c:1'])
  })

  it('reads the token for every request, and retries while the relay cannot be reached', async () => {
    const key = await generateEncryptionKey()
    const r = await relay(() => key, [])
    let n = 0
    const s = start(r.url, () => `token-${++n}`)
    s.send('src', event('d', 1))
    s.send('src', event('d', 2))
    await until(() => s.pending() === 0, 'both taken')
    expect(r.received.map((x) => x.auth)).toEqual(['Bearer token-1', 'Bearer token-2'])

    const down = start('http://127.0.0.1:9') // nothing listens on the discard port
    const tries = () => (logged.match(/relay did not take the change: retrying/g) ?? []).length
    down.send('src', event('e', 1))
    await until(() => tries() >= 3, 'three tries')
    expect(down.pending()).toBe(1)
    down.stop()
    expect(logged).not.toContain('pw-')
  })

  it('gives up on 422 (the relay can never map it) and goes on with the next change', async () => {
    const key = await generateEncryptionKey()
    const r = await relay(() => key, [{ status: 422, body: { code: 'ERR_UNMAPPABLE' } }])
    const s = start(r.url)
    s.send('src', event('f', 1))
    s.send('src', event('f', 2))
    await until(() => s.pending() === 0, 'both settled')
    expect(r.received.map((x) => x.event.id)).toEqual(['f:2'])
  })
})
