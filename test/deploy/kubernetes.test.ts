// The Kubernetes manifests, built as kustomize would and each object validated against the Kubernetes schemas.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
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
  PodDisruptionBudget,
  ServiceMonitor,
}

/**
 * `kustomize build` for what these files use: `resources` (files and folders) and `components`. Any other
 * kustomization field (patches, generators, images...) fails, so this stays the same as the real tool.
 */
function build(dir: string, extraComponents: string[] = []): Obj[] {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown>
  const unknown = Object.keys(k).filter(
    (key) => !['apiVersion', 'kind', 'resources', 'components'].includes(key),
  )
  expect(unknown, `${dir}/kustomization.yaml`).toEqual([])
  const out: Obj[] = []
  for (const entry of [
    ...((k.resources as string[]) ?? []),
    ...((k.components as string[]) ?? []),
    ...extraComponents,
  ]) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...build(path))
    else out.push(...parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Obj))
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
  return deployment
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

  it('optional ServiceMonitor and NetworkPolicy components select the relay and its http port', () => {
    for (const variant of ['sqlite', 'postgres']) {
      const objects = build(join(ROOT, variant), [
        '../components/servicemonitor',
        '../components/networkpolicy',
      ])
      const deployment = expectCommon(objects)
      const labels = deployment.spec.template.metadata.labels
      const monitor = one(objects, 'ServiceMonitor')
      expect(monitor.spec.selector.matchLabels).toEqual(one(objects, 'Service').metadata.labels)
      expect(monitor.spec.endpoints).toContainEqual(
        expect.objectContaining({ port: 'http', path: '/metrics' }),
      )
      const policy = one(objects, 'NetworkPolicy')
      expect(policy.spec.podSelector.matchLabels).toEqual(labels)
      expect(policy.spec.ingress[0].ports).toEqual([{ port: 'http', protocol: 'TCP' }])
    }
  })

  it('the schema check is real: a broken object fails validation', () => {
    const objects = build(join(ROOT, 'sqlite'))
    const deployment = one<Obj>(objects, 'Deployment')
    const broken = { ...deployment, spec: { ...(deployment.spec as AnyRec), replicas: 'one' } }
    expect(() => new Deployment(broken as never).validate()).toThrow()
  })
})

describe('deploy/k8s/vault-relay.yaml (the single-file manifest)', () => {
  it('is valid, restricted, and trusts one proxy hop', () => {
    const file = 'deploy/k8s/vault-relay.yaml'
    expect(existsSync(file)).toBe(true)
    const objects = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj)
    validate(objects.filter((o) => o.kind !== 'Secret'))
    const deployment = one(objects, 'Deployment')
    expectRestricted(deployment.spec.template.spec)
    expectSafeConfig(one(objects, 'ConfigMap').data['relay.yaml'])
  })
})
