// The notifier's memory (`vault-relay watch`) under a realistic Secret count: the numbers behind the requests
// and limits of deploy/k8s/watch/notifier.yaml. Not a test and not part of `npm run bench`:
//   npm run build && node bench/notifier-rss.mjs        (BENCH_SECRETS=2000, BENCH_SECONDS=20)
//
// It compiles test/support (the fake Kubernetes API, the fake RWX, the real relay and notifier processes) to
// bench/results/kube-support/, starts them as the end-to-end tests do, creates the Secrets, restarts the
// notifier at info level (as the manifest runs it: `node dist/cli.js watch`, no node flags) so it lists them
// all at start, and samples its /proc/PID/status every 100 ms: the start-up list and send, then a rotation of
// every Secret once the first round is taken, for at least BENCH_SECONDS.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse, stringify } from 'yaml'
import { freePort, memoryOf } from './lib.mjs'

const SECRETS = Number(process.env.BENCH_SECRETS ?? 2000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const OUT = 'bench/results/kube-support'

execFileSync(
  process.execPath,
  [
    'node_modules/typescript/bin/tsc',
    ...['--outDir', OUT, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
    ...['--target', 'es2023', '--types', 'node', '--skipLibCheck', '--esModuleInterop', '--noCheck'],
    ...['test/support/fake-kube-api.ts', 'test/support/fake-rwx.ts', 'test/support/relay-process.ts'],
    ...['test/support/signers.ts', 'test/support/x509.ts', 'test/support/kube-files.ts'],
  ],
  { stdio: 'inherit' },
)
/** @param {string} file */
const load = (file) => import(resolve(OUT, 'test/support', file))
/** @type {typeof import('../test/support/fake-kube-api.js')} */
const { startFakeKubeApi } = await load('fake-kube-api.js')
/** @type {typeof import('../test/support/fake-rwx.js')} */
const { startFakeRwx } = await load('fake-rwx.js')
/** @type {typeof import('../test/support/kube-files.js')} */
const { writeKubeFiles } = await load('kube-files.js')
/** @type {typeof import('../test/support/relay-process.js')} */
const { spawnCli, startRelayProcess } = await load('relay-process.js')
/** @type {typeof import('../test/support/signers.js')} */
const { generateEncryptionKey } = await load('signers.js')
/** @type {typeof import('../test/support/x509.js')} */
const { issueTlsCertificate } = await load('x509.js')

/** A Secret as big as operators write them (~1 KiB: user, password, URIs, pgpass, host, port...). */
function values(i, round) {
  const password = `${randomBytes(24).toString('base64url')}-${round}`
  const user = `app${i}`
  const host = `pg-main-rw.app.svc.cluster.local`
  return {
    username: user,
    user,
    password,
    host,
    port: '5432',
    dbname: 'app',
    uri: `postgresql://${user}:${password}@${host}:5432/app`,
    'jdbc-uri': `jdbc:postgresql://${host}:5432/app?password=${password}&user=${user}`,
    pgpass: `${host}:5432:app:${user}:${password}\n`,
    'ca.crt': randomBytes(384).toString('base64'),
  }
}

/**
 * 2,000 Secrets in `app` across the three example watches (examples/kubernetes/watch.yaml): half Zalando
 * role Secrets (all sent), a quarter Crunchy user Secrets (all sent), a quarter CloudNativePG Secrets of
 * which one matches the name pattern (all listed and cached by the informer, one sent).
 */
function specs() {
  const out = []
  for (let i = 0; i < SECRETS; i++) {
    if (i % 4 < 2)
      out.push({
        name: `role${i}.acid-main.credentials.postgresql.acid.zalan.do`,
        labels: { application: 'spilo', 'cluster-name': 'acid-main' },
        sent: true,
      })
    else if (i % 4 === 2)
      out.push({
        name: `hippo-pguser-app${i}`,
        labels: {
          'postgres-operator.crunchydata.com/cluster': 'hippo',
          'postgres-operator.crunchydata.com/pguser': 'app',
        },
        sent: true,
      })
    else
      out.push({
        name: i === 3 ? 'pg-main-app' : `pg-main-app${i}`,
        labels: { 'cnpg.io/cluster': 'pg-main' },
        sent: i === 3,
      })
  }
  return out
}

/**
 * The notifier's relay_watch_events_total, summed over sources, by outcome.
 * @param {string} health
 * @returns {Promise<Record<string, number>>}
 */
async function outcomes(health) {
  const text = await (await fetch(`${health}/metrics`)).text()
  /** @type {Record<string, number>} */
  const out = {}
  for (const m of text.matchAll(/^relay_watch_events_total\{[^}]*outcome="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2])
  return out
}

/**
 * The relay (the three operator examples' sources, as test/support/kube-relay.ts runs it) and the fakes; then
 * the Secrets, then the notifier, so it lists them all at once as after a rollout.
 */
async function setUp(all) {
  const tls = await issueTlsCertificate()
  const [kube, rwx, jwe] = await Promise.all([
    startFakeKubeApi(tls),
    startFakeRwx({ token: 'rwx-bench-token' }),
    generateEncryptionKey(),
  ])
  const dir = mkdtempSync(join(tmpdir(), 'relay-notifier-rss-'))
  const files = await writeKubeFiles(dir, kube, tls.caPem)
  const docs = ['cloudnativepg.yaml', 'zalando.yaml', 'crunchy-pgo.yaml'].map((f) =>
    parse(readFileSync(join('examples/kubernetes', f), 'utf8')),
  )
  const relay = await startRelayProcess(
    dir,
    stringify({
      ...docs[0],
      // One client sends everything: the per-address rate limit would only stretch the run.
      rateLimit: { max: 0 },
      sources: docs.flatMap((d) => d.sources),
    }),
    {
      RWX_API_URL: rwx.url,
      RWX_ACCESS_TOKEN: rwx.token,
      RELAY_JWE_KEY: jwe.privatePem,
      KUBE_ISSUER: kube.issuer,
      KUBE_CA_FILE: files.caFile,
      KUBE_TOKEN_FILE: files.relayTokenFile,
      LOG_LEVEL: 'info',
    },
  )
  for (const [i, s] of all.entries()) kube.apply('app', s.name, values(i, 0), s.labels)
  const healthPort = await freePort()
  const watch = spawnCli(['watch', '--config', 'examples/kubernetes/watch.yaml'], process.cwd(), {
    WATCH_HEALTH_HOST: '127.0.0.1',
    WATCH_HEALTH_PORT: String(healthPort),
    KUBECONFIG: files.kubeconfig,
    RELAY_URL: relay.url,
    RELAY_TOKEN_FILE: files.watchTokenFile,
    APP_NAMESPACE: 'app',
  })
  return {
    kube,
    watch,
    health: `http://127.0.0.1:${healthPort}`,
    async close() {
      await Promise.all([watch.kill('SIGKILL'), relay.kill('SIGKILL')])
      await Promise.all([kube.close(), rwx.close()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const all = specs()
const expected = all.filter((s) => s.sent).length
const k = await setUp(all)
try {
  const pid = k.watch.child.pid
  const start = performance.now()
  const samples = []
  const phases = { startup: { done: 0, ms: 0 }, rotation: { done: 0, ms: 0 } }
  let phase = 'startup'
  let rotatedAt = 0
  const elapsed = () => performance.now() - start
  while (elapsed() < SECONDS * 1000 || phase !== 'finished') {
    const m = memoryOf(pid)
    if (m === undefined) throw new Error(`the notifier exited:\n${k.watch.output().slice(-4000)}`)
    samples.push({ ms: Math.round(elapsed()), phase, ...m })
    const done = await outcomes(k.health).catch(() => /** @type {Record<string, number>} */ ({}))
    const settled = (done.taken ?? 0) + (done.duplicate ?? 0) + (done.refused ?? 0) + (done.superseded ?? 0)
    if (phase === 'startup' && settled >= expected) {
      phases.startup = { done: settled, ms: Math.round(elapsed()) }
      phase = 'rotation'
      rotatedAt = elapsed()
      for (const [i, s] of all.entries()) k.kube.apply('app', s.name, values(i, 1), s.labels)
    } else if (phase === 'rotation' && settled >= 2 * expected) {
      phases.rotation = { done: settled - expected, ms: Math.round(elapsed() - rotatedAt) }
      phase = 'finished'
    }
    if (elapsed() > 10 * SECONDS * 1000) throw new Error(`stuck in ${phase}: ${JSON.stringify(done)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const last = samples.at(-1)
  const maxBy = (p) => Math.max(...samples.filter((s) => !p || s.phase === p).map((s) => s.rssMiB))
  const result = {
    node: process.version,
    secrets: SECRETS,
    sentPerRound: expected,
    seconds: Math.round(elapsed() / 100) / 10,
    phases,
    maxRssMiB: { all: maxBy(), startup: maxBy('startup'), rotation: maxBy('rotation') },
    peakRssMiB: last.peakRssMiB,
    endRssMiB: last.rssMiB,
  }
  console.log(JSON.stringify(result, null, 2))
} finally {
  await k.close()
}
