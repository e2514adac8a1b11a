// Every relay config in README.md and docs/*.md loads with the real loader, with only its required variables set.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { configSchema, sourceSchema } from '../../src/config/schema.js'
import { parseConfig } from '../../src/load-config.js'

/**
 * How a ```yaml block is told apart, by its top level:
 * - a mapping of relay.yaml keys (`sources:`, `store:`…): a whole config, loaded as it is;
 * - a list of mappings with `id`: entries of `sources`;
 * - a mapping of a source's keys (`verify:`, `rules:`…): one source (given a stand-in verifier when it has none);
 * - `issuers:`: a jwt source's `kubernetes.issuers`;
 * - watch.yaml keys, or a Kubernetes manifest fragment: not a relay config, skipped.
 * Any other block fails the test, so a new kind of example has to be placed here.
 */
type Kind = 'config' | 'sources' | 'source' | 'issuers' | 'other'

const CONFIG_KEYS = new Set(Object.keys(configSchema.shape))
const SOURCE_KEYS = new Set(Object.keys(sourceSchema.shape))
const WATCH_KEYS = new Set(['relay', 'watches', 'health', 'kubeconfig', 'inCluster', 'retry', 'logLevel'])
const MANIFEST_KEYS = new Set(['volumes', 'apiVersion', 'kind', 'metadata', 'spec', 'containers'])

interface Block {
  where: string
  text: string
}

function yamlBlocks(): Block[] {
  const files = ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'))
  const out: Block[] = []
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)) {
      const line = text.slice(0, m.index).split('\n').length
      out.push({ where: `${file}:${line}`, text: m[1] ?? '' })
    }
  }
  return out
}

const within = (keys: string[], allowed: Set<string>) => keys.length > 0 && keys.every((k) => allowed.has(k))

function kindOf(doc: unknown): Kind | undefined {
  if (Array.isArray(doc)) {
    return doc.every((d) => d !== null && typeof d === 'object' && 'id' in d) ? 'sources' : undefined
  }
  if (doc === null || typeof doc !== 'object') return undefined
  const keys = Object.keys(doc)
  if (within(keys, CONFIG_KEYS)) return 'config'
  if (within(keys, SOURCE_KEYS)) return 'source'
  if (keys.length === 1 && keys[0] === 'issuers') return 'issuers'
  if (within(keys, WATCH_KEYS) || within(keys, MANIFEST_KEYS)) return 'other'
  return undefined
}

/** The block as a whole relay.yaml. */
function asConfig(kind: Kind, doc: unknown, text: string): string {
  switch (kind) {
    case 'config':
      return text
    case 'sources':
      return `sources:\n${text.replace(/^/gm, '  ')}`
    case 'source': {
      const standIn = { type: 'api-key', header: 'x-doc', keys: ['doc-key'] }
      return stringify({ sources: [{ id: 'doc', verify: standIn, ...(doc as object) }] })
    }
    case 'issuers': {
      const verify = {
        type: 'jwt',
        in: 'header',
        audience: 'vault-relay',
        algorithms: ['RS256'],
        kubernetes: { serviceAccount: 'ns:sa', ...(doc as object) },
      }
      return stringify({ sources: [{ id: 'doc', verify }] })
    }
    default:
      throw new Error(`not a relay config: ${kind}`)
  }
}

const ecKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ed25519 = generateKeyPairSync('ed25519')

/** A valid stand-in for a variable, chosen by its name; what it stands for is in the name. */
function dummyValue(name: string): string {
  if (/WHSEC/.test(name)) return `whsec_${randomBytes(24).toString('base64')}`
  if (/WHPK/.test(name)) {
    const raw = ed25519.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
    return `whpk_${raw.toString('base64')}`
  }
  if (/ENCRYPTION_KEY/.test(name)) return randomBytes(32).toString('base64')
  if (/PUBLIC_PEM/.test(name)) return ecKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString()
  if (/PRIVATE_PEM|JWE_KEY/.test(name)) {
    return ecKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  }
  if (/SNS_TOPIC_ARN/.test(name)) return 'arn:aws:sns:eu-west-1:111122223333:rotations'
  if (/ARN/.test(name)) return 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf'
  if (/URL/.test(name)) return 'https://example.com'
  return `dummy-${randomBytes(8).toString('hex')}`
}

/** The pod's service-account directory that in-cluster examples name, stood in for by a temporary one. */
const POD_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
const saDir = mkdtempSync(join(tmpdir(), 'doc-blocks-sa-'))
writeFileSync(join(saDir, 'ca.crt'), ecKeys.publicKey.export({ format: 'pem', type: 'spki' }))
writeFileSync(join(saDir, 'token'), 'doc-service-account-token')
afterAll(() => rmSync(saDir, { recursive: true, force: true }))

/** The variables the block needs (`${VAR}` without a default); optional ones (`${VAR:-…}`) stay unset. */
function requiredEnv(text: string): Record<string, string> {
  const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? '')
  return Object.fromEntries(names.map((n) => [n, dummyValue(n)]))
}

describe('YAML examples in README.md and docs/', () => {
  const blocks = yamlBlocks().map((b) => ({ ...b, doc: parse(b.text) as unknown }))

  it('are each a relay config or a known other kind', () => {
    const unplaced = blocks.filter((b) => kindOf(b.doc) === undefined).map((b) => b.where)
    expect(unplaced).toEqual([])
  })

  const configs = blocks.filter((b) => kindOf(b.doc) !== 'other' && kindOf(b.doc) !== undefined)

  it('include the relay configs they should (README sources and worked examples, the docs fragments)', () => {
    expect(configs.length).toBeGreaterThanOrEqual(6)
    expect(configs.some((b) => b.text.includes('${STRIPE_WHSEC_OLD:-}'))).toBe(true)
  })

  for (const b of configs) {
    it(`${b.where} loads with the real config loader`, () => {
      const kind = kindOf(b.doc) as Kind
      const text = asConfig(kind, b.doc, b.text).replaceAll(POD_SA_DIR, saDir)
      const config = parseConfig(text, requiredEnv(b.text), b.where)
      if (kind !== 'config' || b.text.includes('sources:')) expect(config.sources.length).toBeGreaterThan(0)
    })
  }
})
