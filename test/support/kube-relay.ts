// The real relay and the real notifier (`vault-relay watch`), configured from the shipped Kubernetes
// examples, against a fake Kubernetes API (Secrets, OIDC discovery, JWKS) and a fake RWX.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { type FakeKubeApi, startFakeKubeApi } from './fake-kube-api.js'
import { type FakeRwx, startFakeRwx } from './fake-rwx.js'
import { writeKubeFiles } from './kube-files.js'
import { freePort } from './postgres.js'
import { type CliProcess, type RelayProcess, spawnCli, startRelayProcess } from './relay-process.js'
import { generateEncryptionKey } from './signers.js'
import { until } from './until.js'
import { issueTlsCertificate } from './x509.js'

export const EXAMPLES = 'examples/kubernetes'
export const RELAY_EXAMPLES = ['cloudnativepg.yaml', 'zalando.yaml', 'crunchy-pgo.yaml']
export const ADMIN = `admin-${randomUUID()}`

export interface KubeRelay {
  kube: FakeKubeApi
  rwx: FakeRwx
  relay: RelayProcess
  watch: CliProcess
  /** The notifier's /healthz, /readyz and /metrics, e.g. http://127.0.0.1:8123. */
  watchHealth: string
  /** The environment the notifier runs with (a kubeconfig for the fake API, the relay's URL...). */
  watchEnv: Record<string, string>
  /** Everything the notifier processes so far printed, across restarts. */
  watchOutput(): string
  /** Stops the notifier (SIGTERM), runs `between`, and starts it again; gives the old one's exit code. */
  restartWatch(between?: () => Promise<void>): Promise<number | string>
  dir: string
  /** Every value a Secret ever held: none may rest in a log or a store file. */
  values: string[]
  remember(value: string): string
  /** Replaces the notifier's relay token (as the kubelet does when it refreshes it). */
  writeToken(token: string): void
  /** Everything the relay processes so far printed, across restarts. */
  relayOutput(): string
  stopRelay(): Promise<void>
  /** Starts the relay again on the same port and store. */
  startRelay(): Promise<void>
  close(): Promise<void>
}

/** One relay config from the three shipped examples, with fast retries and the admin API. */
function relayConfig(): string {
  const docs = RELAY_EXAMPLES.map((f) => parse(readFileSync(join(EXAMPLES, f), 'utf8')))
  return stringify({
    ...docs[0],
    sources: docs.flatMap((d) => d.sources),
    delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, maxAttempts: 1000 },
  })
}

/** The shipped watch.yaml with fast retries. */
function watchConfig(): string {
  const doc = parse(readFileSync(join(EXAMPLES, 'watch.yaml'), 'utf8'))
  return stringify({ ...doc, retry: { baseMs: 50, maxMs: 300 } })
}

export async function startKubeRelay(): Promise<KubeRelay> {
  const tls = await issueTlsCertificate()
  const [kube, rwx, jwe] = await Promise.all([
    startFakeKubeApi(tls),
    startFakeRwx({ token: `rwx-token-${randomUUID()}` }),
    generateEncryptionKey(),
  ])
  const dir = mkdtempSync(join(tmpdir(), 'relay-k8s-e2e-'))
  const files = await writeKubeFiles(dir, kube, tls.caPem)
  // The relay fetches discovery and JWKS with its own token, as where discovery is not anonymous.
  const relaySaToken = files.relayToken
  kube.requireTokenForJwks(relaySaToken)
  const tokenFile = files.watchTokenFile
  writeFileSync(join(dir, 'watch.yaml'), watchConfig())
  const relayEnv = {
    RWX_API_URL: rwx.url,
    RWX_ACCESS_TOKEN: rwx.token,
    RELAY_JWE_KEY: jwe.privatePem,
    KUBE_ISSUER: kube.issuer,
    KUBE_CA_FILE: files.caFile,
    KUBE_TOKEN_FILE: files.relayTokenFile,
    RELAY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'trace',
  }
  const yaml = relayConfig()
  let relay = await startRelayProcess(dir, yaml, relayEnv)
  const port = new URL(relay.url).port
  let earlier = ''
  const healthPort = await freePort()
  const watchEnv = {
    WATCH_HEALTH_HOST: '127.0.0.1',
    WATCH_HEALTH_PORT: String(healthPort),
    KUBECONFIG: files.kubeconfig,
    RELAY_URL: relay.url,
    RELAY_TOKEN_FILE: tokenFile,
    APP_NAMESPACE: 'app',
    WATCH_LOG_LEVEL: 'trace',
  }
  /** Starts the notifier and waits until its three watches are open. */
  async function startWatch(): Promise<CliProcess> {
    const before = kube.watching
    const cli = spawnCli(['watch', '--config', join(dir, 'watch.yaml')], dir, watchEnv)
    await until(
      () => kube.watching >= before + 3 || cli.child.exitCode !== null,
      'the notifier to watch',
    ).catch(() => undefined)
    if (kube.watching < before + 3) {
      await Promise.all([cli.kill('SIGKILL'), relay.kill('SIGKILL'), kube.close(), rwx.close()])
      throw new Error(`the notifier is not watching:\n${cli.output()}`)
    }
    return cli
  }
  let watch = await startWatch()
  let earlierWatch = ''
  const values: string[] = [
    relaySaToken,
    readFileSync(tokenFile, 'utf8'),
    rwx.token,
    jwe.privatePem,
    kube.apiToken,
  ]
  return {
    kube,
    rwx,
    get relay() {
      return relay
    },
    get watch() {
      return watch
    },
    watchHealth: `http://127.0.0.1:${healthPort}`,
    watchEnv,
    watchOutput: () => earlierWatch + watch.output(),
    async restartWatch(between = async () => {}) {
      const code = await watch.kill('SIGTERM')
      earlierWatch += watch.output()
      await until(() => kube.watching === 0, 'the old watches to close')
      await between()
      watch = await startWatch()
      return code
    },
    dir,
    values,
    remember(value) {
      values.push(value)
      return value
    },
    writeToken(token) {
      values.push(token)
      writeFileSync(tokenFile, token)
    },
    relayOutput: () => earlier + relay.output(),
    async stopRelay() {
      await relay.kill('SIGTERM')
      earlier += relay.output()
    },
    async startRelay() {
      relay = await startRelayProcess(dir, yaml, { ...relayEnv, PORT: port })
    },
    async close() {
      await Promise.all([watch.kill('SIGKILL'), relay.kill('SIGKILL')])
      await Promise.all([kube.close(), rwx.close()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
