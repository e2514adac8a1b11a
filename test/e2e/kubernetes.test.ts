// End to end through both real binaries: operator Secrets change in a fake Kubernetes API, `vault-relay
// watch` (the real client-node informer) sends encrypted events with a service-account token, the relay
// verifies and decrypts them and RWX gets the values under the shipped examples' names.
import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type KubeRelay, startKubeRelay } from '../support/kube-relay.js'
import { freePort } from '../support/postgres.js'
import { spawnCli } from '../support/relay-process.js'
import { generateEncryptionKey } from '../support/signers.js'
import { until } from '../support/until.js'

let k: KubeRelay
beforeAll(async () => {
  k = await startKubeRelay()
})
afterAll(async () => {
  await k?.close()
})

const CNPG = {
  ns: 'app',
  name: 'pg-main-app',
  labels: { 'cnpg.io/cluster': 'pg-main', 'cnpg.io/reload': 'true' },
}
const ZALANDO = {
  ns: 'app',
  name: 'app-user.acid-main.credentials.postgresql.acid.zalan.do',
  labels: { application: 'spilo', 'cluster-name': 'acid-main', team: 'acid' },
}
const CRUNCHY = {
  ns: 'app',
  name: 'hippo-pguser-app',
  labels: {
    'postgres-operator.crunchydata.com/cluster': 'hippo',
    'postgres-operator.crunchydata.com/pguser': 'app',
    'postgres-operator.crunchydata.com/role': 'pguser',
  },
}

/** A new CloudNativePG password (and uri); returns the password. */
function rotateCnpg(): string {
  const password = k.remember(`cnpg-${randomUUID()}`)
  const uri = k.remember(`postgresql://app:${password}@pg-main-rw.app:5432/app`)
  k.kube.apply(
    CNPG.ns,
    CNPG.name,
    { username: 'app', password, uri, dbname: 'app', host: 'pg-main-rw' },
    CNPG.labels,
  )
  return password
}

const holds = (name: string, value: string) =>
  k.rwx.waitFor(() => k.rwx.secrets('production').get(name)?.secret === value, 15_000)
const writesOf = (value: string) => k.rwx.writes.filter((w) => w.secret === value).length
const hooksAnswered = () => (k.relayOutput().match(/"msg":"hook answered"/g) ?? []).length

/** The relay's current encryption key, from its JWKS. */
async function relayKey(): Promise<{ key: Awaited<ReturnType<typeof importJWK>>; jwk: JWK }> {
  const { keys } = (await (await fetch(`${k.relay.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] }
  return { key: await importJWK(keys[0]!, keys[0]!.alg), jwk: keys[0]! }
}

/** POSTs an event as the notifier does, with `token` and a body encrypted to `key`. */
async function post(token: string, event: unknown, key?: Parameters<CompactEncrypt['encrypt']>[0]) {
  const body = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(event)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json' })
    .encrypt(key ?? (await relayKey()).key)
  const res = await fetch(`${k.relay.url}/hooks/k8s-cnpg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/jose' },
    body,
  })
  return { status: res.status, body: (await res.json()) as { code?: string } }
}

async function eventCount(): Promise<number> {
  const res = await fetch(`${k.relay.url}/admin/events?source=k8s-cnpg&limit=500`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  })
  return ((await res.json()) as { events: unknown[] }).events.length
}

/** GET a path of a notifier's health listener: status, and the body as text. */
async function health(base: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`).catch(() => undefined)
  return res === undefined ? { status: 0, text: '' } : { status: res.status, text: await res.text() }
}

/** The value of one sample in Prometheus text, e.g. `relay_watch_lists_total{source="k8s-cnpg",namespace="app"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('Kubernetes operators end to end (real notifier, real relay, fake API server)', () => {
  it('CloudNativePG: the <cluster>-app Secret reaches RWX as APP_DB_USER, APP_DB_PASSWORD, APP_DATABASE_URL', async () => {
    const password = rotateCnpg()
    await holds('APP_DB_PASSWORD', password)
    const stored = k.rwx.secrets('production')
    expect(stored.get('APP_DB_USER')?.secret).toBe('app')
    expect(stored.get('APP_DATABASE_URL')?.secret).toContain(password)
    expect(stored.get('APP_DB_PASSWORD')?.description).toMatch(
      /^CloudNativePG app\/pg-main-app \(resourceVersion \d+\)$/,
    )
  })

  it('the notifier is live and ready once in sync, and /metrics counts what it did, with no value', async () => {
    expect(await health(k.watchHealth, '/healthz')).toMatchObject({ status: 200 })
    const ready = await health(k.watchHealth, '/readyz')
    expect(ready.status).toBe(200)
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready' })
    const { text } = await health(k.watchHealth, '/metrics')
    expect(sample(text, 'relay_watch_changes_seen_total{source="k8s-cnpg"}')).toBeGreaterThanOrEqual(1)
    expect(
      sample(text, 'relay_watch_events_total{source="k8s-cnpg",outcome="taken"}'),
    ).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'relay_watch_lists_total{source="k8s-cnpg",namespace="app"}')).toBe(1)
    expect(sample(text, 'relay_watch_pending_changes')).toBe(0)
    const last = sample(text, 'relay_watch_last_send_success_timestamp_seconds')!
    expect(Math.abs(last * 1000 - Date.now())).toBeLessThan(10 * 60_000)
    expect(text).toContain('relay_watch_process_resident_memory_bytes')
    for (const v of k.values) expect(text.includes(v), 'a value in /metrics').toBe(false)
    expect(text).not.toMatch(/pg-main-app|resourceVersion/)
  })

  it('in a pod (no kubeconfig): KUBERNETES_SERVICE_HOST/PORT and the mounted service-account token reach the API; ready only once in sync', async () => {
    // The kubelet's mount: token, ca.crt, namespace. The API does not know the token yet.
    const sa = join(k.dir, 'in-cluster-sa')
    mkdirSync(sa, { recursive: true })
    const saToken = k.remember(`sa-${randomUUID()}`)
    writeFileSync(join(sa, 'token'), saToken)
    writeFileSync(join(sa, 'ca.crt'), readFileSync(join(k.dir, 'ca.crt')))
    writeFileSync(join(sa, 'namespace'), 'vault-relay')
    const doc = readFileSync(join(k.dir, 'watch.yaml'), 'utf8')
    writeFileSync(join(k.dir, 'watch-in-cluster.yaml'), `${doc}\ninCluster:\n  serviceAccountDir: ${sa}\n`)
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const env = Object.fromEntries(Object.entries(k.watchEnv).filter(([name]) => name !== 'KUBECONFIG'))
    const api = new URL(k.kube.url)
    const pod = spawnCli(['watch', '--config', join(k.dir, 'watch-in-cluster.yaml')], k.dir, {
      ...env,
      // A namespace with no Secrets: this notifier sends nothing the other tests would see.
      APP_NAMESPACE: 'in-cluster-empty',
      KUBERNETES_SERVICE_HOST: api.hostname,
      KUBERNETES_SERVICE_PORT: api.port,
      WATCH_HEALTH_PORT: String(port),
    })
    try {
      await until(
        () => /"status":401.*watch failed: restarting/.test(pod.output()),
        'the API to refuse the unknown token',
      )
      expect(await health(base, '/healthz')).toMatchObject({ status: 200 })
      const unready = await health(base, '/readyz')
      expect(unready.status).toBe(503)
      expect(JSON.parse(unready.text)).toMatchObject({ code: 'ERR_NOT_SYNCED' })
      expect(k.kube.callers).not.toContain('in-cluster-sa')
      k.kube.acceptApiToken(saToken, 'in-cluster-sa')
      let status = 0
      await until(async () => {
        status = (await health(base, '/readyz')).status
        return status === 200
      }, 'the notifier to be ready')
      await until(() => k.kube.watching >= 6, 'its three watches to open beside the other three')
      // Three lists and three watches, each with the token from the mounted file.
      expect(k.kube.callers.filter((c) => c === 'in-cluster-sa').length).toBeGreaterThanOrEqual(6)
      const { text } = await health(base, '/metrics')
      expect(
        sample(text, 'relay_watch_restarts_total{source="k8s-cnpg",namespace="in-cluster-empty"}'),
      ).toBeGreaterThanOrEqual(1)
      expect(sample(text, 'relay_watch_lists_total{source="k8s-cnpg",namespace="in-cluster-empty"}')).toBe(1)
    } finally {
      await pod.kill('SIGTERM')
    }
    expect(pod.output()).not.toContain(saToken)
    await until(() => k.kube.watching === 3, 'the pod notifier’s watches to close')
  })

  it('Zalando: a rotation to a new <role><YYMMDD> user writes username and password together', async () => {
    const first = k.remember(`zal-${randomUUID()}`)
    k.kube.apply(ZALANDO.ns, ZALANDO.name, { username: 'app_user', password: first }, ZALANDO.labels)
    await holds('APP_DB_PASSWORD', first)
    const rotated = k.remember(`zal-${randomUUID()}`)
    k.kube.apply(ZALANDO.ns, ZALANDO.name, { username: 'app_user261203', password: rotated }, ZALANDO.labels)
    await holds('APP_DB_PASSWORD', rotated)
    expect(k.rwx.secrets('production').get('APP_DB_USER')?.secret).toBe('app_user261203')
    // One RWX request carried the pair: never a new password with the old user, even for a moment.
    const pair = k.rwx.requests.find((r) => JSON.stringify(r.body).includes(rotated))
    const names = (pair?.body as { secrets?: { name: string; secret: string }[] } | undefined)?.secrets
    expect(names).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'APP_DB_USER', secret: 'app_user261203' }),
        expect.objectContaining({ name: 'APP_DB_PASSWORD', secret: rotated }),
      ]),
    )
  })

  it('Crunchy PGO: the <cluster>-pguser-<user> Secret maps user and password', async () => {
    const password = k.remember(`pgo-${randomUUID()}`)
    k.kube.apply(
      CRUNCHY.ns,
      CRUNCHY.name,
      { user: 'app', password, verifier: 'SCRAM-SHA-256$x' },
      CRUNCHY.labels,
    )
    await holds('APP_DB_PASSWORD', password)
    expect(k.rwx.secrets('production').get('APP_DB_USER')?.secret).toBe('app')
  })

  it('sends nothing when only an annotation (or an unwatched key) changed', async () => {
    const before = hooksAnswered()
    const touched = k.kube.annotate(CNPG.ns, CNPG.name)
    // A Secret outside every watch (no matching label) changes too.
    k.kube.apply('app', 'unrelated', { password: k.remember(`other-${randomUUID()}`) }, { app: 'x' })
    await until(
      () =>
        new RegExp(`"resourceVersion":"${touched.metadata.resourceVersion}".*no watched value changed`).test(
          k.watch.output(),
        ),
      'the notifier to see the annotation',
    )
    // A real change after it, as the point by which anything sent for the annotation would have arrived.
    const password = rotateCnpg()
    await holds('APP_DB_PASSWORD', password)
    expect(hooksAnswered()).toBe(before + 1)
  })

  it('three rapid rotations: all in order, the newest is the last write', async () => {
    const [a, b, c] = [rotateCnpg(), rotateCnpg(), rotateCnpg()]
    await holds('APP_DB_PASSWORD', c)
    const order = k.rwx.writes.filter((w) => w.name === 'APP_DB_PASSWORD').map((w) => w.secret)
    const last = order.lastIndexOf(c)
    expect(order.slice(last + 1)).toEqual([])
    expect(writesOf(c)).toBe(1)
    // Earlier ones were written before it or superseded, never after.
    for (const v of [a, b]) expect(order.lastIndexOf(v)).toBeLessThan(last)
  })

  it.each(['event', 'status'] as const)(
    '410 Gone (as an ERROR %s): relists, sends the change it missed once, and rewrites nothing else',
    async (as) => {
      const lists = k.kube.requests.filter((r) => r.startsWith('list')).length
      const writes = k.rwx.writes.length
      const before = hooksAnswered()
      k.kube.cutStreams()
      // While the watch is away: a change, then etcd compacts past the version the notifier has.
      const password = k.remember(`missed-${randomUUID()}`)
      k.kube.apply(CRUNCHY.ns, CRUNCHY.name, { user: 'app', password }, CRUNCHY.labels)
      k.kube.compact(as)
      await holds('APP_DB_PASSWORD', password)
      await until(() => k.kube.watching >= 3, 'the watches to be back')
      expect(k.kube.requests.filter((r) => r.startsWith('list')).length).toBeGreaterThanOrEqual(lists + 3)
      // One new event (the missed change); the relisted Secrets that did not change sent nothing.
      expect(hooksAnswered()).toBe(before + 1)
      expect(
        k.rwx.writes
          .slice(writes)
          .map((w) => w.name)
          .sort(),
      ).toEqual(['APP_DB_PASSWORD', 'APP_DB_USER'])
    },
  )

  it('bookmarks: after one, a cut stream resumes from its version without a relist', async () => {
    await until(() => k.kube.watching >= 3, 'the watches')
    const lists = k.kube.requests.filter((r) => r.startsWith('list')).length
    const unrelated = k.kube.apply(
      'app',
      'unrelated',
      { password: k.remember(`b-${randomUUID()}`) },
      { app: 'x' },
    )
    const rv = unrelated.metadata.resourceVersion
    k.kube.bookmark()
    k.kube.compact()
    k.kube.cutStreams()
    await until(
      () => k.kube.requests.filter((r) => r === `watch app rv=${rv}`).length >= 3,
      'the watches to resume from the bookmark',
    )
    const password = rotateCnpg()
    await holds('APP_DB_PASSWORD', password)
    expect(k.kube.requests.filter((r) => r.startsWith('list')).length).toBe(lists)
  })

  it('an API server restart: the change made while it was down arrives', async () => {
    await k.kube.stop()
    const password = rotateCnpg()
    await until(() => /watch failed: restarting/.test(k.watch.output()), 'the notifier to notice')
    await k.kube.start()
    await holds('APP_DB_PASSWORD', password)
  })

  it('the relay down for a while: the change is retried until it is taken', async () => {
    await k.stopRelay()
    const retries = () => (k.watch.output().match(/the relay cannot be reached/g) ?? []).length
    const seen = retries()
    const password = rotateCnpg()
    await until(() => retries() >= seen + 3, 'the notifier to retry')
    expect(k.rwx.secrets('production').get('APP_DB_PASSWORD')?.secret).not.toBe(password)
    await k.startRelay()
    await holds('APP_DB_PASSWORD', password)
  })

  it('the relay down through many rotations: two changes held, the newest written last', async () => {
    const metric = async (series: string) => sample((await health(k.watchHealth, '/metrics')).text, series)
    const seen = (await metric('relay_watch_changes_seen_total{source="k8s-cnpg"}'))!
    const writes = k.rwx.writes.length
    await k.stopRelay()
    const rotations = Array.from({ length: 40 }, () => rotateCnpg())
    await until(
      async () => (await metric('relay_watch_changes_seen_total{source="k8s-cnpg"}')) === seen + 40,
      'the notifier to see every rotation',
    )
    // One change in flight (retried), one waiting: the 38 between were replaced before they were sent.
    expect(await metric('relay_watch_pending_changes')).toBe(2)
    expect(
      await metric('relay_watch_events_total{source="k8s-cnpg",outcome="superseded"}'),
    ).toBeGreaterThanOrEqual(38)
    await k.startRelay()
    const newest = rotations.at(-1)!
    await holds('APP_DB_PASSWORD', newest)
    await until(async () => (await metric('relay_watch_pending_changes')) === 0, 'nothing held')
    const written = k.rwx.writes
      .slice(writes)
      .filter((w) => w.name === 'APP_DB_PASSWORD')
      .map((w) => w.secret)
    expect(written.at(-1)).toBe(newest)
    // At most the one in flight before it (the first rotation), never one of those replaced.
    expect(written.slice(0, -1).every((v) => v === rotations[0])).toBe(true)
    expect(written.length).toBeLessThanOrEqual(2)
  })

  it('re-reads its token file on every request: a refused token is retried, the refreshed one delivers', async () => {
    const good = readFileSync(join(k.dir, 'watch-token'), 'utf8')
    k.writeToken(await k.kube.token({ namespace: 'vault-relay', serviceAccount: 'someone-else' }))
    const refusals = () => (k.watch.output().match(/"status":401,"code":"ERR_CLAIM_MISMATCH"/g) ?? []).length
    const seen = refusals()
    const password = rotateCnpg()
    await until(() => refusals() >= seen + 2, 'the relay to refuse the other service account')
    k.writeToken(good)
    await holds('APP_DB_PASSWORD', password)
  })

  it('a notifier restart resends each Secret once: the relay has it (duplicate), or takes what it missed', async () => {
    const writes = k.rwx.writes.length
    const taken = () => (k.watch.output().match(/"msg":"relay took the change"/g) ?? []).length
    let missed = ''
    const exit = await k.restartWatch(async () => {
      missed = rotateCnpg()
    })
    expect(exit).toBe(0)
    await holds('APP_DB_PASSWORD', missed)
    // All three watched Secrets were sent again; only the missed change was new to the relay.
    await until(() => taken() >= 3, 'the three Secrets to be sent again')
    expect((k.watch.output().match(/"duplicate":true/g) ?? []).length).toBe(2)
    expect(
      k.rwx.writes
        .slice(writes)
        .map((w) => w.name)
        .sort(),
    ).toEqual(['APP_DATABASE_URL', 'APP_DB_PASSWORD', 'APP_DB_USER'])
  })

  it('a deleted Secret sends nothing; recreated (a new uid) with the same values, it is sent again', async () => {
    const before = hooksAnswered()
    const old = k.kube.apply(
      CRUNCHY.ns,
      CRUNCHY.name,
      { user: 'app', password: k.remember(`del-${randomUUID()}`) },
      CRUNCHY.labels,
    )
    await until(() => hooksAnswered() === before + 1, 'the change to be sent')
    const data = Object.fromEntries(
      Object.entries(old.data).map(([key, v]) => [key, Buffer.from(v, 'base64').toString()]),
    )
    k.kube.remove(CRUNCHY.ns, CRUNCHY.name)
    await until(
      () => /"name":"hippo-pguser-app","msg":"secret deleted"/.test(k.watch.output()),
      'the deletion',
    )
    const again = k.kube.apply(CRUNCHY.ns, CRUNCHY.name, data, CRUNCHY.labels)
    expect(again.metadata.uid).not.toBe(old.metadata.uid)
    await until(() => hooksAnswered() === before + 2, 'the recreated Secret to be sent')
  })

  describe('the relay refuses, and queues nothing for', () => {
    const event = () => ({
      type: 'secret.changed',
      id: `${randomUUID()}:1`,
      time: new Date().toISOString(),
      namespace: CNPG.ns,
      name: CNPG.name,
      uid: randomUUID(),
      resourceVersion: '1',
      labels: CNPG.labels,
      data: { username: 'app', password: k.remember(`direct-${randomUUID()}`), uri: 'postgresql://x' },
    })
    const ok = () => k.kube.token({ namespace: 'vault-relay', serviceAccount: 'vault-relay-watch' })

    it('nothing, with the right token and key (the control), and a replay is a duplicate', async () => {
      const e = event()
      expect(await post(await ok(), e)).toMatchObject({ status: 202, body: { event: e.id, secrets: 3 } })
      expect(await post(await ok(), e)).toMatchObject({ status: 200, body: { duplicate: true } })
    })

    it.each([
      ['another service account', { serviceAccount: 'intruder' }, 'ERR_CLAIM_MISMATCH'],
      ['another namespace', { namespace: 'default' }, 'ERR_CLAIM_MISMATCH'],
      ['another audience', { audience: 'kubernetes' }, 'ERR_CLAIM_MISMATCH'],
      ['an expired token', { expiresIn: -120 }, 'ERR_TIMESTAMP_STALE'],
      ['a key the issuer does not publish', { foreignKey: true }, 'ERR_TOKEN_INVALID'],
    ])('a token from %s (401)', async (_what, options, code) => {
      const before = await eventCount()
      expect(await post(await k.kube.token(options), event())).toMatchObject({ status: 401, body: { code } })
      expect(await eventCount()).toBe(before)
    })

    it('a body encrypted to a key the relay does not hold (401)', async () => {
      const before = await eventCount()
      const stranger = await generateEncryptionKey()
      const answer = await post(await ok(), event(), stranger.publicKey)
      expect(answer).toMatchObject({ status: 401, body: { code: 'ERR_TOKEN_INVALID' } })
      expect(await eventCount()).toBe(before)
    })
  })

  it('publishes only public keys, and no value rests in either log (trace) or the store', async () => {
    const { jwk } = await relayKey()
    expect(jwk).toMatchObject({ kty: 'EC', use: 'enc', alg: 'ECDH-ES+A256KW' })
    expect(jwk.d).toBeUndefined()
    await until(() => k.watchOutput().includes('"level":10'), 'trace lines from the notifier')
    await k.relay.kill('SIGTERM')
    await k.watch.kill('SIGTERM')
    const files = readdirSync(join(k.dir, 'data')).filter((f) => !f.endsWith('.key'))
    expect(files.length).toBeGreaterThan(0)
    const outputs = { relay: k.relayOutput(), watch: k.watchOutput() }
    expect(outputs.relay).toContain('"level":10')
    // The relay did handle these values (RWX holds them), so finding none in its files means something.
    expect(k.values.filter((v) => k.rwx.writes.some((w) => w.secret === v)).length).toBeGreaterThan(8)
    for (const v of k.values) {
      for (const f of files)
        expect(readFileSync(join(k.dir, 'data', f)).includes(Buffer.from(v)), f).toBe(false)
      expect(outputs.relay.includes(v), 'a value in the relay output').toBe(false)
      expect(outputs.watch.includes(v), 'a value in the notifier output').toBe(false)
    }
  })
})
