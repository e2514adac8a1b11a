import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadWatchConfig, requireKubeApi, SERVICE_ACCOUNT_DIR } from '../../src/watch/config.js'
import { loadKubeConfig } from '../../src/watch/watcher.js'

const dir = mkdtempSync(join(tmpdir(), 'relay-watch-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function load(text: string, env: Record<string, string> = {}) {
  const file = join(dir, `${Math.random()}.yaml`)
  writeFileSync(file, text)
  return loadWatchConfig(file, env)
}

describe('watch.yaml', () => {
  it('the shipped example loads with its defaults; KUBECONFIG and LOG_LEVEL apply', () => {
    const config = loadWatchConfig('examples/kubernetes/watch.yaml', { KUBECONFIG: '/k', LOG_LEVEL: 'debug' })
    expect(config.relay).toMatchObject({
      url: 'http://vault-relay.vault-relay.svc',
      tokenFile: '/var/run/secrets/vault-relay/token',
    })
    expect(config).toMatchObject({
      kubeconfig: '/k',
      logLevel: 'debug',
      retry: { baseMs: 500, maxMs: 60_000 },
    })
    expect(config.watches.map((w) => w.source)).toEqual(['k8s-cnpg', 'k8s-zalando', 'k8s-crunchy'])
    expect(config.health).toEqual({ host: '0.0.0.0', port: 8081 })
  })

  it('health: WATCH_HEALTH_HOST and _PORT in the example; port 0 turns it off; a bad port is named', () => {
    const env = { KUBECONFIG: '/k', WATCH_HEALTH_HOST: '127.0.0.1', WATCH_HEALTH_PORT: '9102' }
    expect(loadWatchConfig('examples/kubernetes/watch.yaml', env).health).toEqual({
      host: '127.0.0.1',
      port: 9102,
    })
    expect(
      loadWatchConfig('examples/kubernetes/watch.yaml', { ...env, WATCH_HEALTH_PORT: '0' }).health.port,
    ).toBe(0)
    const base =
      'relay: { url: http://r, tokenFile: /t }\nwatches: [{ source: s, namespaces: [a], keys: [k] }]\n'
    expect(() => load(`${base}health: { port: 70000 }`)).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^health\.port: /)] }),
    )
    expect(() => load(`${base}health: { port: eighty }`)).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^health\.port: /)] }),
    )
  })

  it('without a kubeconfig: the pod’s KUBERNETES_SERVICE_HOST/PORT and service account, else a clear error', () => {
    const base =
      'relay: { url: http://r, tokenFile: /t }\nwatches: [{ source: s, namespaces: [a], keys: [k] }]\n'
    const pod = load(base, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' })
    expect(pod.kubeconfig).toBeUndefined()
    expect(pod.inCluster).toEqual({ host: '10.0.0.1', port: 443, serviceAccountDir: SERVICE_ACCOUNT_DIR })
    expect(() => requireKubeApi(pod, 'w.yaml')).not.toThrow()
    const cluster = loadKubeConfig(pod).getCurrentCluster()
    expect(cluster).toMatchObject({ server: 'https://10.0.0.1:443', caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt` })
    expect(loadKubeConfig(pod).getCurrentUser()?.authProvider).toEqual({
      name: 'tokenFile',
      config: { tokenFile: `${SERVICE_ACCOUNT_DIR}/token` },
    })
    // watch.yaml wins over the environment; IPv6 hosts are bracketed.
    const v6 = load(`${base}inCluster: { host: "fd00::1", port: 6443, serviceAccountDir: /sa }`, {
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    })
    expect(loadKubeConfig(v6).getCurrentCluster()).toMatchObject({
      server: 'https://[fd00::1]:6443',
      caFile: '/sa/ca.crt',
    })
    // A kubeconfig (or KUBECONFIG) leaves inCluster unused.
    expect(load(base, { KUBECONFIG: '/k', KUBERNETES_SERVICE_HOST: 'x' }).inCluster.host).toBeUndefined()
    const nowhere = load(base)
    expect(() => requireKubeApi(nowhere, 'w.yaml')).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringMatching(/^inCluster\.host: required without a kubeconfig/),
          expect.stringMatching(/^inCluster\.port: required without a kubeconfig/),
        ],
      }),
    )
  })

  it('lists every bad path', () => {
    expect(() =>
      load(`
relay: { url: not-a-url }
watches:
  - { source: "bad id", namespaces: [], keys: [password], namePattern: "(" }
`),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          'relay.url: Invalid URL',
          'relay.tokenFile: required',
          'watches[0].source: must match ^[A-Za-z0-9_.-]+$',
          'watches[0].namespaces: required: at least one',
          'watches[0].namePattern: must be a valid regular expression',
        ]),
      }),
    )
  })
})
