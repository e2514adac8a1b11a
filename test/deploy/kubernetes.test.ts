// The Kubernetes manifests, built as kustomize would and each object validated against the Kubernetes schemas.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { demoSecretPaths } from '../../src/config/demo.js'
import { parseConfig } from '../../src/load-config.js'

const ROOT = 'deploy/kustomize'
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown }

/** kind → the schema-checked model; an object of any other kind fails the test. */
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment,
  ConfigMap,
  PersistentVolumeClaim,
  Service,
  ServiceAccount,
  NetworkPolicy,
  Ingress,
  PodDisruptionBudget,
  ServiceMonitor,
  PrometheusRule,
  Namespace,
  ClusterRoleBinding,
}

/** Kinds that live in no namespace: kustomize's `namespace` leaves them alone. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding'])

/** An RFC 6902 path's parent and last key, in `doc`. */
function locate(doc: AnyRec, path: string): [AnyRec, string] {
  const keys = path
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
  const last = keys.pop()!
  let parent = doc
  for (const k of keys) parent = parent[k]
  expect(parent, path).toBeDefined()
  return [parent, last]
}

/** `patches` entries with a target and an inline JSON 6902 patch (add, replace, remove): all these files use. */
function applyPatches(objects: Obj[], patches: AnyRec[], where: string): void {
  for (const p of patches) {
    expect(Object.keys(p).sort(), `${where}: a patch has a target and an inline patch`).toEqual([
      'patch',
      'target',
    ])
    expect(Object.keys(p.target).sort(), `${where}: targets by kind and name`).toEqual(['kind', 'name'])
    const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name)
    expect(targets.length, `${where}: ${p.target.kind}/${p.target.name}`).toBeGreaterThan(0)
    for (const op of parseYaml(p.patch) as AnyRec[])
      for (const o of targets) {
        const [parent, key] = locate(o as AnyRec, op.path)
        if (op.op === 'remove') delete parent[key]
        else if (op.op === 'add' && Array.isArray(parent))
          parent.splice(key === '-' ? parent.length : Number(key), 0, op.value)
        else if (op.op === 'add' || op.op === 'replace') parent[key] = op.value
        else expect.fail(`${where}: unsupported op ${op.op}`)
      }
  }
}

/**
 * `kustomize build` for what these files use: `resources` (files and folders), `components`, `patches`
 * (JSON 6902, inline) and `namespace`. Any other kustomization field (generators, images, labels...)
 * fails, so this stays the same as the real tool; the rendered files under deploy/k8s, which
 * deploy/render.sh makes with the real tool, are compared with what this builds.
 */
function build(dir: string, extraComponents: string[] = []): Obj[] {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as AnyRec
  const unknown = Object.keys(k).filter(
    (key) => !['apiVersion', 'kind', 'resources', 'components', 'patches', 'namespace'].includes(key),
  )
  expect(unknown, `${dir}/kustomization.yaml`).toEqual([])
  const out: Obj[] = []
  for (const entry of (k.resources as string[]) ?? []) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...build(path))
    else out.push(...parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Obj))
  }
  // A component adds its resources, then its patches act on everything built so far.
  for (const entry of [...((k.components as string[]) ?? []), ...extraComponents]) {
    const component = join(dir, entry)
    const c = parseYaml(readFileSync(join(component, 'kustomization.yaml'), 'utf8')) as AnyRec
    expect(c.kind, component).toBe('Component')
    out.push(...build(component))
    applyPatches(out, c.patches ?? [], component)
  }
  if (k.kind !== 'Component') applyPatches(out, k.patches ?? [], dir)
  if (k.namespace) {
    const accounts = new Set(out.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name))
    for (const o of out as AnyRec[]) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace
      for (const subject of o.subjects ?? [])
        if (subject.kind === 'ServiceAccount' && accounts.has(subject.name)) subject.namespace = k.namespace
    }
  }
  return out
}

function validate(objects: Obj[]): void {
  for (const o of objects) {
    const Model = MODELS[o.kind]
    expect(Model, `a model for ${o.kind}`).toBeDefined()
    expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow()
  }
  const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`)
  expect(new Set(ids).size, 'no object twice').toBe(ids.length)
}

const one = <T = AnyRec>(objects: Obj[], kind: string): T => {
  const found = objects.filter((o) => o.kind === kind)
  expect(found, kind).toHaveLength(1)
  return found[0] as T
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked as loose YAML; the models check their shape
type AnyRec = Record<string, any>

/** Pod Security "restricted", as the admission controller checks it. */
function expectRestricted(pod: AnyRec): void {
  expect(pod.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  })
  for (const c of pod.containers as AnyRec[]) {
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    })
    expect(c.securityContext.privileged ?? false).toBe(false)
  }
  for (const v of pod.volumes as AnyRec[]) expect(v.hostPath, v.name).toBeUndefined()
}

function expectCommon(objects: Obj[]): AnyRec {
  validate(objects)
  expect(
    objects.some((o) => o.kind === 'Secret'),
    'secrets come from an existing Secret',
  ).toBe(false)
  const deployment = one(objects, 'Deployment')
  const pod = deployment.spec.template.spec
  const labels = deployment.spec.template.metadata.labels
  expectRestricted(pod)
  const [container] = pod.containers
  expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' })
  expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' })
  expect(container.envFrom).toEqual([{ secretRef: { name: 'vault-relay' } }])
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10)
  // Service, PDB (and policies) select the pods.
  expect(one(objects, 'Service').spec.selector).toEqual(labels)
  expect(one(objects, 'PodDisruptionBudget').spec.selector.matchLabels).toEqual(labels)
  const configMap = one(objects, 'ConfigMap')
  expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: configMap.metadata.name } })
  expectSafeConfig(configMap.data['relay.yaml'])
  expectAdminPort(container, configMap.data['relay.yaml'], one(objects, 'Service'))
  return deployment
}

/** /metrics and /admin on their own named port `admin`, the one the config's server.adminPort opens. */
function expectAdminPort(container: AnyRec, relayYaml: string, service: AnyRec): void {
  const config = parseYaml(relayYaml) as AnyRec
  const ports = Object.fromEntries((container.ports as AnyRec[]).map((p) => [p.name, p.containerPort]))
  expect(ports.admin).toBe(config.server.adminPort)
  expect(ports.http).not.toBe(ports.admin)
  // Prometheus scrapes the pod's address: the NetworkPolicy, not loopback, keeps others out.
  expect(config.server.adminHost).toBe('0.0.0.0')
  expect((service.spec.ports as AnyRec[]).map((p) => p.targetPort).sort()).toEqual(['admin', 'http'])
}

/** The config the pods mount parses with only the Secret's required keys, has no DEMO-ONLY secret, trusts one hop. */
function expectSafeConfig(relayYaml: string): void {
  const config = parseConfig(relayYaml, {
    RWX_ACCESS_TOKEN: 't',
    RELAY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    STRIPE_WHSEC_NEW: 'whsec_x',
  })
  expect(config.server.trustProxy).toBe(1)
  expect(demoSecretPaths(config)).toEqual([])
}

describe('deploy/kustomize', () => {
  it('sqlite: one replica, Recreate, the queue on a PersistentVolumeClaim', () => {
    const objects = build(join(ROOT, 'sqlite'))
    const deployment = expectCommon(objects)
    expect(deployment.spec.replicas).toBe(1)
    expect(deployment.spec.strategy.type).toBe('Recreate')
    const pvc = one(objects, 'PersistentVolumeClaim')
    const pod = deployment.spec.template.spec
    expect(pod.volumes).toContainEqual({
      name: 'data',
      persistentVolumeClaim: { claimName: pvc.metadata.name },
    })
    const env = Object.fromEntries((pod.containers[0].env as AnyRec[]).map((e) => [e.name, e.value]))
    const mount = (pod.containers[0].volumeMounts as AnyRec[]).find((m) => m.name === 'data')
    expect(env.RELAY_STORE).toBe(`sqlite:${mount?.mountPath}/relay.db`)
    // A PDB that never lets the single pod be evicted would block every node drain.
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1)
  })

  it('postgres: several replicas, rolling without downtime, RELAY_STORE required from the Secret', () => {
    const objects = build(join(ROOT, 'postgres'))
    const deployment = expectCommon(objects)
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2)
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0)
    expect(objects.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false)
    const store = (deployment.spec.template.spec.containers[0].env as AnyRec[]).find(
      (e) => e.name === 'RELAY_STORE',
    )
    expect(store?.valueFrom.secretKeyRef).toEqual({ name: 'vault-relay', key: 'RELAY_STORE' })
    expect(one(objects, 'PodDisruptionBudget').spec.minAvailable).toBe(1)
  })

  it('optional ServiceMonitor and NetworkPolicy components: metrics on the admin port, which only Prometheus reaches', () => {
    for (const variant of ['sqlite', 'postgres']) {
      const objects = build(join(ROOT, variant), [
        '../components/servicemonitor',
        '../components/networkpolicy',
      ])
      const deployment = expectCommon(objects)
      const labels = deployment.spec.template.metadata.labels
      const monitor = one(objects, 'ServiceMonitor')
      expect(monitor.spec.selector.matchLabels).toEqual(one(objects, 'Service').metadata.labels)
      expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })])
      const policy = one(objects, 'NetworkPolicy')
      expect(policy.spec.podSelector.matchLabels).toEqual(labels)
      const rules = policy.spec.ingress as AnyRec[]
      const reaching = (port: string) =>
        rules.filter((r) => (r.ports as AnyRec[]).some((p) => p.port === port)).flatMap((r) => r.from)
      const namespace = (name: string) => ({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
      })
      // Every rule names its port; the ingress controller reaches http only, Prometheus admin only.
      for (const r of rules) expect(r.ports.length).toBeGreaterThan(0)
      expect(reaching('http')).toContainEqual(namespace('ingress-nginx'))
      expect(reaching('http')).not.toContainEqual(namespace('monitoring'))
      expect(reaching('admin')).toEqual([namespace('monitoring')])
      // vault-relay watch, beside the relay, sends its changes to the public port.
      const notifier = one(readObjects('deploy/k8s/watch/notifier.yaml'), 'Deployment')
      expect(reaching('http')).toContainEqual({
        podSelector: { matchLabels: notifier.spec.template.metadata.labels },
      })
    }
  })

  it('the Ingress example routes only /hooks/ and /.well-known/jwks.json, to the public port', () => {
    for (const variant of ['sqlite', 'postgres']) {
      const objects = build(join(ROOT, variant), ['../components/ingress'])
      expectCommon(objects)
      const ingress = one(objects, 'Ingress')
      expect(ingress.apiVersion).toBe('networking.k8s.io/v1')
      const service = one(objects, 'Service')
      const paths = (ingress.spec.rules as AnyRec[]).flatMap((r) => r.http.paths as AnyRec[])
      expect(paths.map((p) => [p.path, p.pathType]).sort()).toEqual([
        ['/.well-known/jwks.json', 'Exact'],
        ['/hooks/', 'Prefix'],
      ])
      for (const p of paths)
        expect(p.backend.service).toEqual({ name: service.metadata.name, port: { name: 'http' } })
      expect(ingress.spec.defaultBackend).toBeUndefined()
      // What a Prefix of /hooks/ matches (whole path segments), none of the operations paths.
      const routed = (url: string) =>
        paths.some((p) =>
          p.pathType === 'Exact'
            ? url === p.path
            : url === p.path.replace(/\/$/, '') || url.startsWith(p.path),
        )
      expect(routed('/hooks/stripe')).toBe(true)
      expect(routed('/.well-known/jwks.json')).toBe(true)
      for (const url of ['/metrics', '/admin/status', '/healthz', '/readyz', '/', '/hooksx'])
        expect(routed(url), url).toBe(false)
    }
  })

  it('the schema check is real: a broken object fails validation', () => {
    const objects = build(join(ROOT, 'sqlite'))
    const deployment = one<Obj>(objects, 'Deployment')
    const broken = { ...deployment, spec: { ...(deployment.spec as AnyRec), replicas: 'one' } }
    expect(() => new Deployment(broken as never).validate()).toThrow()
  })
})

/** The single-file manifests deploy/render.sh renders from deploy/kustomize. */
const RENDERED: Record<string, string> = {
  sqlite: 'deploy/k8s/vault-relay.yaml',
  kubernetes: 'deploy/k8s/watch/relay.yaml',
}
const VARIANTS = ['sqlite', 'postgres', 'kubernetes']
const ALL_COMPONENTS = [
  '../components/servicemonitor',
  '../components/alerts',
  '../components/networkpolicy',
  '../components/ingress',
]
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version
const LABELS = { 'app.kubernetes.io/name': 'vault-relay' }
const readObjects = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj)
const byId = (objects: Obj[]) =>
  [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`))
/** Every YAML file under deploy/k8s and deploy/kustomize. */
const yamlFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  )
const containers = (objects: Obj[]): AnyRec[] =>
  objects
    .filter((o) => o.kind === 'Deployment')
    .flatMap((d) => (d as AnyRec).spec.template.spec.containers as AnyRec[])

describe('deploy/kustomize/kubernetes (the relay beside vault-relay watch)', () => {
  it('mounts its service-account token and CA, may read issuer discovery, and serves kubernetes sources', () => {
    const objects = build(join(ROOT, 'kubernetes'))
    validate(objects)
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false)
    const deployment = one(objects, 'Deployment')
    const pod = deployment.spec.template.spec
    expectRestricted(pod)
    expect(one(objects, 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted')
    const account = one(objects, 'ServiceAccount')
    expect(pod.serviceAccountName).toBe(account.metadata.name)
    expect(pod.automountServiceAccountToken).toBe(true)
    expect(account.automountServiceAccountToken).toBe(true)
    const binding = one(objects, 'ClusterRoleBinding')
    expect(binding.roleRef).toMatchObject({
      kind: 'ClusterRole',
      name: 'system:service-account-issuer-discovery',
    })
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
    ])
    for (const o of objects.filter((o) => !['Namespace', 'ClusterRoleBinding'].includes(o.kind)))
      expect((o as AnyRec).metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('vault-relay')
    const config = parseYaml(one(objects, 'ConfigMap').data['relay.yaml']) as AnyRec
    expect(config.server.trustProxy).toBe(1)
    const sources = config.sources as AnyRec[]
    expect(sources.length).toBeGreaterThan(0)
    for (const source of sources)
      for (const issuer of source.verify.kubernetes.issuers as AnyRec[]) {
        // Where automountServiceAccountToken puts them.
        expect(issuer.caFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')
        expect(issuer.tokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token')
      }
  })
})

describe('deploy/kustomize is the one source of the relay manifests', () => {
  it('the single-file manifests are what deploy/render.sh renders from it (run it after a change)', () => {
    for (const [variant, file] of Object.entries(RENDERED)) {
      expect(existsSync(file), file).toBe(true)
      expect(readFileSync(file, 'utf8'), file).toContain(
        `GENERATED by deploy/render.sh from deploy/kustomize/${variant}`,
      )
      expect(byId(readObjects(file)), file).toEqual(byId(build(join(ROOT, variant))))
    }
  })

  const kustomize = kustomizeVersion()
  it.skipIf(kustomize === undefined || kustomize < 4)(
    `the real kustomize renders them byte for byte (skipped without kubectl bundling kustomize v4+; found ${kustomize ?? 'none'}: the test above covers it with the built-in builder)`,
    () => {
      for (const [variant, file] of Object.entries(RENDERED)) {
        const rendered = execFileSync('kubectl', ['kustomize', join(ROOT, variant)], { encoding: 'utf8' })
        const committed = readFileSync(file, 'utf8').replace(/^(#.*\n)+/, '')
        expect(committed, file).toBe(rendered)
      }
    },
  )

  it('every relay and notifier image is pinned to package.json’s version, none :latest', () => {
    const images = [
      ...VARIANTS.flatMap((v) => containers(build(join(ROOT, v)))),
      ...yamlFiles('deploy/k8s').flatMap((f) => containers(readObjects(f))),
    ].map((c) => c.image as string)
    expect(images.length).toBeGreaterThanOrEqual(6)
    for (const image of images) expect(image).toBe(`vault-relay:${VERSION}`)
    for (const file of [...yamlFiles('deploy/k8s'), ...yamlFiles(ROOT)])
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/image:\s*\S+:latest\b/)
  })

  it('every variant labels every object, selector and pod the same way', () => {
    for (const variant of VARIANTS) {
      const objects = build(join(ROOT, variant), ALL_COMPONENTS)
      for (const o of objects)
        expect((o as AnyRec).metadata.labels, `${variant}: ${o.kind}/${o.metadata.name}`).toMatchObject(
          LABELS,
        )
      const deployment = one(objects, 'Deployment')
      expect(deployment.spec.selector.matchLabels, variant).toEqual(LABELS)
      expect(deployment.spec.template.metadata.labels, variant).toEqual(LABELS)
      expect(one(objects, 'Service').spec.selector, variant).toEqual(LABELS)
      expect(one(objects, 'PodDisruptionBudget').spec.selector.matchLabels, variant).toEqual(LABELS)
    }
    for (const file of Object.values(RENDERED)) {
      const deployment = one(readObjects(file), 'Deployment')
      expect(deployment.spec.selector.matchLabels, file).toEqual(LABELS)
      expect(one(readObjects(file), 'Service').spec.selector, file).toEqual(LABELS)
    }
  })

  it('no manifest carries a Secret or a placeholder value: Secrets are created by hand, never applied from here', () => {
    const rendered = [
      ...VARIANTS.map((v) => [v, build(join(ROOT, v), ALL_COMPONENTS)] as const),
      ...yamlFiles('deploy/k8s').map((f) => [f, readObjects(f)] as const),
    ]
    for (const [where, objects] of rendered) {
      expect(
        objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
        where,
      ).toEqual([])
      expect(JSON.stringify(objects), where).not.toMatch(/replace-me|changeme|change-me|<your/i)
    }
  })
})

describe('deploy/k8s/vault-relay.yaml (the single-file manifest)', () => {
  it('is valid, restricted, and trusts one proxy hop', () => {
    const objects = readObjects('deploy/k8s/vault-relay.yaml')
    validate(objects)
    const deployment = one(objects, 'Deployment')
    expectRestricted(deployment.spec.template.spec)
    expectSafeConfig(one(objects, 'ConfigMap').data['relay.yaml'])
  })
})

/** The major version of the kustomize kubectl bundles, or undefined without kubectl. */
function kustomizeVersion(): number | undefined {
  try {
    const out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' })
    const v = (JSON.parse(out) as { kustomizeVersion?: string }).kustomizeVersion
    const major = /^v(\d+)\./.exec(v ?? '')?.[1]
    return major === undefined ? 0 : Number(major)
  } catch {
    return undefined
  }
}
