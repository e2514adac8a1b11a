// The notifier says why a watch failed: the cause and a hint, at warn, never a token or a response body.
import { ApiException, KubeConfig } from '@kubernetes/client-node'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log.js'
import { watchConfigSchema } from '../../src/watch/config.js'
import { describeWatchFailure } from '../../src/watch/failure.js'
import { startWatcher, type Watcher } from '../../src/watch/watcher.js'
import { type FakeKubeApi, startFakeKubeApi } from '../support/fake-kube-api.js'
import { until } from '../support/until.js'
import { issueTlsCertificate } from '../support/x509.js'

const config = watchConfigSchema.parse({
  relay: { url: 'http://127.0.0.1:1', tokenFile: '/nonexistent' },
  kubeconfig: '/unused',
  retry: { baseMs: 50, maxMs: 200 },
  watches: [{ source: 'k8s', namespaces: ['app'], keys: ['password'] }],
})

let kube: FakeKubeApi | undefined
let watcher: Watcher | undefined
afterEach(async () => {
  await watcher?.stop()
  await kube?.close()
  watcher = undefined
  kube = undefined
})

function kubeConfig(server: string, token: string, ca?: string): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server,
        skipTLSVerify: false,
        ...(ca ? { caData: Buffer.from(ca).toString('base64') } : {}),
      },
    ],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  })
  return kc
}

/** Starts a watcher at warn level; resolves with the first `watch failed` line, parsed, and every line. */
async function firstFailure(kc: KubeConfig): Promise<{ line: Record<string, unknown>; all: string }> {
  const lines: string[] = []
  const log = createLogger('warn', { write: (s: string) => void lines.push(s) })
  watcher = startWatcher(config, {
    kubeConfig: kc,
    log,
    retry: config.retry,
    onSecret: () => {},
    onDelete: () => {},
  })
  await until(() => lines.some((l) => l.includes('watch failed: restarting')), 'a watch failure logged')
  const raw = lines.find((l) => l.includes('watch failed: restarting'))!
  return { line: JSON.parse(raw) as Record<string, unknown>, all: lines.join('') }
}

describe('a failing watch is logged with its cause', () => {
  it('names the refused plain-http API server and hints at https', async () => {
    kube = await startFakeKubeApi(await issueTlsCertificate(), { plainHttp: true })
    const { line, all } = await firstFailure(kubeConfig(kube.url, kube.apiToken))
    expect(line.level).toBe(40)
    const err = line.err as Record<string, string>
    expect(err.message).toMatch(/HTTP protocol is not allowed/)
    expect(err.hint).toMatch(/insecure-skip-tls-verify/)
    expect(all).not.toContain(kube.apiToken)
  })

  it('gives the status and Status reason of a refused token, never the response it came in', async () => {
    const tls = await issueTlsCertificate()
    kube = await startFakeKubeApi(tls)
    const wrong = `wrong-token-${Date.now()}`
    const { line, all } = await firstFailure(kubeConfig(kube.url, wrong, tls.caPem))
    expect(line.status).toBe(401)
    const err = line.err as Record<string, string>
    expect(err.type).toBe('ApiException')
    expect(err.hint).toMatch(/token/)
    // ApiException's message embeds the body and headers: not logged.
    expect(all).not.toMatch(/HTTP-Code|Body:|Headers:/)
    expect(all).not.toContain(wrong)
  })

  it('gives the system code of an unreachable API server', async () => {
    const tls = await issueTlsCertificate()
    kube = await startFakeKubeApi(tls)
    await kube.stop()
    const { line } = await firstFailure(kubeConfig(kube.url, kube.apiToken, tls.caPem))
    expect(line.code).toBe('ECONNREFUSED')
    expect((line.err as Record<string, string>).hint).toMatch(/not reachable/)
  })

  it("names an untrusted certificate: the cluster's CA is not the server's", async () => {
    kube = await startFakeKubeApi(await issueTlsCertificate())
    const other = await issueTlsCertificate()
    const { line } = await firstFailure(kubeConfig(kube.url, kube.apiToken, other.caPem))
    expect(String(line.code)).toMatch(/CERT|SIGNATURE|SELF_SIGNED/)
    expect((line.err as Record<string, string>).hint).toMatch(/certificate/)
  })
})

describe('describeWatchFailure', () => {
  it("keeps a Status body's reason and drops the rest of the response", () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'Forbidden',
      message: 'user "x" cannot list secrets',
    })
    const failure = describeWatchFailure(
      new ApiException(403, 'Unknown API Status Code!', body, { 'set-cookie': 'session=abc' }),
    )
    expect(failure).toMatchObject({ type: 'ApiException', status: 403, reason: 'Forbidden' })
    expect(failure.hint).toMatch(/RoleBinding/)
    expect(JSON.stringify(failure)).not.toMatch(/session=abc|cannot list/)
  })

  it('drops userinfo from a message URL', () => {
    const failure = describeWatchFailure(new Error('request to https://admin:hunter2@10.0.0.1/api failed'))
    expect(failure.message).not.toContain('hunter2')
  })
})
