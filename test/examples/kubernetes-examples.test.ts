// The shipped Kubernetes examples and manifests: each relay config loads and maps what its operator
// writes (through the notifier's own change tracker) to the RWX names, and the manifests grant only
// what the notifier needs and run under the restricted Pod Security profile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { readYamlConfig } from '../../src/config/load.js'
import { type Config, configSchema } from '../../src/config/schema.js'
import { parseConfig } from '../../src/load-config.js'
import { compileRules } from '../../src/mapping/rules.js'
import { createChangeTracker, type SecretObject } from '../../src/watch/changes.js'
import { loadWatchConfig, watchConfigSchema } from '../../src/watch/config.js'
import { generateEncryptionKey } from '../support/signers.js'

const EXAMPLES = 'examples/kubernetes'
const DEPLOY = 'deploy/k8s/watch'
const dir = mkdtempSync(join(tmpdir(), 'relay-k8s-examples-'))
let ENV: Record<string, string>
beforeAll(async () => {
  writeFileSync(join(dir, 'ca.crt'), 'not read until a TLS connection is made')
  ENV = {
    RWX_ACCESS_TOKEN: 'rwx-test-token',
    RELAY_JWE_KEY: (await generateEncryptionKey()).privatePem,
    KUBE_CA_FILE: join(dir, 'ca.crt'),
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const load = (file: string): Config => parseConfig(readFileSync(join(EXAMPLES, file), 'utf8'), ENV, file)
const watchConfig = () => loadWatchConfig(join(EXAMPLES, 'watch.yaml'), {})

/** A Secret as its operator writes it (values base64 in `data`). */
function secret(
  name: string,
  labels: Record<string, string>,
  values: Record<string, string>,
  rv = '10',
): SecretObject {
  const data = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  )
  return { metadata: { name, namespace: 'app', uid: 'uid-1', resourceVersion: rv, labels }, data }
}

/** What the relay maps from this Secret: through the watch of `source` (watch.yaml) and the source's rules. */
function mapped(file: string, source: string, s: SecretObject) {
  const spec = watchConfig().watches.find((w) => w.source === source)!
  const labels = s.metadata!.labels!
  const selected = spec.labelSelector!.split(',').every((t) => {
    const [k, v] = t.split('=')
    return v === undefined ? k! in labels : labels[k!] === v
  })
  const event = createChangeTracker(spec).seen(s)
  const config = load(file)
  const src = config.sources.find((x) => x.id === source)!
  return { selected, event, secrets: event === undefined ? [] : compileRules(src).map(event) }
}

const names = (secrets: { name: string; value?: string }[]) =>
  Object.fromEntries(secrets.map((x) => [x.name, x.value]))

describe('examples/kubernetes', () => {
  it('CloudNativePG: <cluster>-app with cnpg.io/cluster maps user, password and uri', () => {
    const s = secret(
      'pg-main-app',
      { 'cnpg.io/cluster': 'pg-main', 'cnpg.io/reload': 'true' },
      { username: 'app', password: 'pw-1', uri: 'postgresql://app:pw-1@pg-main-rw:5432/app', dbname: 'app' },
    )
    const out = mapped('cloudnativepg.yaml', 'k8s-cnpg', s)
    expect(out.selected).toBe(true)
    expect(out.event?.data).not.toHaveProperty('dbname')
    expect(names(out.secrets as never)).toEqual({
      APP_DB_USER: 'app',
      APP_DB_PASSWORD: 'pw-1',
      APP_DATABASE_URL: 'postgresql://app:pw-1@pg-main-rw:5432/app',
    })
    // The superuser Secret of the same cluster is not watched.
    expect(
      mapped(
        'cloudnativepg.yaml',
        'k8s-cnpg',
        secret('pg-main-superuser', { 'cnpg.io/cluster': 'pg-main' }, { password: 'x' }),
      ).event,
    ).toBeUndefined()
  })

  it('Zalando: the rotated <role><YYMMDD> user and its password map together', () => {
    const name = 'app-user.acid-main.credentials.postgresql.acid.zalan.do'
    const labels = { application: 'spilo', 'cluster-name': 'acid-main', team: 'acid' }
    const out = mapped(
      'zalando.yaml',
      'k8s-zalando',
      secret(name, labels, { username: 'app_user261203', password: 'pw-2' }),
    )
    expect(out.selected).toBe(true)
    expect(names(out.secrets as never)).toEqual({ APP_DB_USER: 'app_user261203', APP_DB_PASSWORD: 'pw-2' })
  })

  it('Crunchy PGO: <cluster>-pguser-<user> maps user and password', () => {
    const labels = {
      'postgres-operator.crunchydata.com/cluster': 'hippo',
      'postgres-operator.crunchydata.com/pguser': 'app',
      'postgres-operator.crunchydata.com/role': 'pguser',
    }
    const out = mapped(
      'crunchy-pgo.yaml',
      'k8s-crunchy',
      secret('hippo-pguser-app', labels, { user: 'app', password: 'pw-3', verifier: 'v' }),
    )
    expect(out.selected).toBe(true)
    expect(names(out.secrets as never)).toEqual({ APP_DB_USER: 'app', APP_DB_PASSWORD: 'pw-3' })
  })

  it('every watch goes to a source of the examples, and the sources verify the same service account', () => {
    const sources = ['cloudnativepg.yaml', 'zalando.yaml', 'crunchy-pgo.yaml'].flatMap((f) => load(f).sources)
    expect(
      watchConfig()
        .watches.map((w) => w.source)
        .sort(),
    ).toEqual(sources.map((s) => s.id).sort())
    for (const s of sources) {
      expect(s.verify).toMatchObject({
        type: 'jwt',
        in: 'header',
        audience: 'vault-relay',
        kubernetes: { serviceAccount: 'vault-relay:vault-relay-watch' },
      })
    }
  })
})

interface K8sObject {
  kind: string
  metadata: { name: string; namespace?: string }
  [key: string]: unknown
}
const manifest = (file: string) =>
  parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((d) => d.toJS() as K8sObject)
const find = (docs: K8sObject[], kind: string, name?: string) =>
  docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name))

interface PodSpec {
  serviceAccountName: string
  securityContext: Record<string, unknown>
  containers: {
    securityContext: Record<string, unknown>
    volumeMounts?: { name: string; mountPath: string }[]
  }[]
  volumes: { name: string; projected?: { sources: { serviceAccountToken?: Record<string, unknown> }[] } }[]
}
const podOf = (d: K8sObject) => (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec

function expectRestricted(pod: PodSpec): void {
  expect(pod.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  })
  for (const c of pod.containers) {
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
  }
}

describe('deploy/k8s/watch', () => {
  const notifier = manifest('notifier.yaml')
  const relay = manifest('relay.yaml')
  const watchYaml = watchConfigSchema.parse(
    parse((find(notifier, 'ConfigMap')[0]!['data'] as Record<string, string>)['watch.yaml']!),
  )

  it('the notifier may only get, list and watch Secrets, and only in the namespaces it watches', () => {
    expect(find(notifier, 'ClusterRole')).toEqual([])
    expect(find(notifier, 'ClusterRoleBinding')).toEqual([])
    const roles = find(notifier, 'Role')
    for (const r of roles)
      expect(r['rules']).toEqual([
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
      ])
    const watched = [...new Set(watchYaml.watches.flatMap((w) => w.namespaces))].sort()
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(watched)
    const bindings = find(notifier, 'RoleBinding')
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(watched)
    for (const b of bindings) {
      expect(b['subjects']).toEqual([
        { kind: 'ServiceAccount', name: 'vault-relay-watch', namespace: 'vault-relay' },
      ])
      expect(b['roleRef']).toMatchObject({ kind: 'Role', name: 'vault-relay-watch' })
    }
  })

  it('the notifier runs restricted, with a 10-minute projected token for the relay’s audience', () => {
    const pod = podOf(find(notifier, 'Deployment')[0]!)
    expect(pod.serviceAccountName).toBe('vault-relay-watch')
    expectRestricted(pod)
    const token = pod.volumes.flatMap((v) => v.projected?.sources ?? []).find((s) => s.serviceAccountToken)
    const audiences = new Set(
      find(relay, 'ConfigMap').flatMap((c) =>
        parse((c['data'] as Record<string, string>)['relay.yaml']!).sources.map(
          (s: { verify: { audience: string } }) => s.verify.audience,
        ),
      ),
    )
    expect(token?.serviceAccountToken).toEqual({
      path: 'token',
      audience: [...audiences][0],
      expirationSeconds: 600,
    })
    expect(audiences.size).toBe(1)
    const mount = pod.containers[0]!.volumeMounts!.find((m) => m.name === 'relay-token')!
    expect(`${mount.mountPath}/token`).toBe(watchYaml.relay.tokenFile)
  })

  it('the notifier’s probes ask its health listener, on the port watch.yaml gives it', () => {
    expect(() => new Deployment(find(notifier, 'Deployment')[0] as never).validate()).not.toThrow()
    const [container] = podOf(find(notifier, 'Deployment')[0]!).containers as unknown as {
      ports: { name: string; containerPort: number }[]
      livenessProbe: { httpGet: unknown }
      readinessProbe: { httpGet: unknown }
    }[]
    expect(container!.ports).toContainEqual({ name: 'health', containerPort: watchYaml.health.port })
    expect(watchYaml.health.port).not.toBe(0)
    expect(container!.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' })
    expect(container!.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' })
  })

  it('the optional PodMonitor scrapes the notifier’s pods on its health port', () => {
    const [monitor] = find(manifest('podmonitor.yaml'), 'PodMonitor')
    expect(() => new PodMonitor(monitor as never).validate()).not.toThrow()
    const deployment = find(notifier, 'Deployment')[0]!
    const labels = (deployment['spec'] as { template: { metadata: { labels: Record<string, string> } } })
      .template.metadata.labels
    const spec = monitor!['spec'] as {
      selector: { matchLabels: Record<string, string> }
      podMetricsEndpoints: { port: string; path: string }[]
    }
    expect(monitor!.metadata.namespace).toBe(deployment.metadata.namespace)
    expect(labels).toMatchObject(spec.selector.matchLabels)
    const [container] = podOf(deployment).containers as unknown as { ports: { name: string }[] }[]
    expect(container!.ports.map((p) => p.name)).toContain(spec.podMetricsEndpoints[0]!.port)
    expect(spec.podMetricsEndpoints[0]!.path).toBe('/metrics')
  })

  it('its watch.yaml is the shipped example', () => {
    expect(watchYaml).toEqual(watchConfig())
  })

  it('the relay runs restricted, may read issuer discovery, and serves the examples’ sources', () => {
    expectRestricted(podOf(find(relay, 'Deployment')[0]!))
    const binding = find(relay, 'ClusterRoleBinding')[0]!
    expect(binding['roleRef']).toMatchObject({
      kind: 'ClusterRole',
      name: 'system:service-account-issuer-discovery',
    })
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'vault-relay', namespace: 'vault-relay' },
    ])
    const text = (find(relay, 'ConfigMap')[0]!['data'] as Record<string, string>)['relay.yaml']!
    // The schema only: its CA and token paths exist in the pod, not here.
    const deployed = configSchema.parse(readYamlConfig(text, ENV, 'relay.yaml', []))
    const shipped = ['cloudnativepg.yaml', 'zalando.yaml', 'crunchy-pgo.yaml'].flatMap((f) => load(f).sources)
    const strip = (c: { sources: Config['sources'] }) =>
      c.sources.map((s) => ({
        id: s.id,
        rules: s.rules.map((r) => ({
          when: r.when,
          secrets: r.secrets.map((x) => [x.vault, x.name, x.value]),
        })),
      }))
    expect(strip(deployed)).toEqual(strip({ sources: shipped }))
  })
})
