// A stand-in for SNS on loopback: a test CA, signing certificates served over HTTP, and real message signing.
import { createPrivateKey, type KeyObject, sign, webcrypto } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type * as X509 from '@peculiar/x509'

installReflectMetadata()
// Imported after the shim: @peculiar/x509 (through tsyringe) throws on load without Reflect metadata.
const x509: typeof X509 = await import('@peculiar/x509')
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
}
const DAY = 86_400_000

/** The few `reflect-metadata` calls tsyringe makes, so the tests need no extra package. */
function installReflectMetadata(): void {
  type Store = Map<unknown, unknown>
  const r = Reflect as unknown as Record<string, unknown>
  if (typeof r['getMetadata'] === 'function') return
  const stores = new WeakMap<object, Map<PropertyKey | undefined, Store>>()
  const own = (target: object, prop?: PropertyKey): Store | undefined => stores.get(target)?.get(prop)
  r['defineMetadata'] = (key: unknown, value: unknown, target: object, prop?: PropertyKey) => {
    const byProp = stores.get(target) ?? new Map<PropertyKey | undefined, Store>()
    stores.set(target, byProp)
    const store = byProp.get(prop) ?? new Map()
    byProp.set(prop, store)
    store.set(key, value)
  }
  r['getOwnMetadata'] = (key: unknown, target: object, prop?: PropertyKey) => own(target, prop)?.get(key)
  r['getMetadata'] = (key: unknown, target: object, prop?: PropertyKey) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const store = own(t, prop)
      if (store?.has(key)) return store.get(key)
    }
    return undefined
  }
  r['metadata'] = (key: unknown, value: unknown) => (target: object, prop?: PropertyKey) =>
    (r['defineMetadata'] as (...a: unknown[]) => void)(key, value, target, prop)
}

/** A certificate and the private key that signs with it. */
export interface TestSigner {
  pem: string
  key: KeyObject
}

async function rsaKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
}

async function toKeyObject(key: webcrypto.CryptoKey): Promise<KeyObject> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key)
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
}

/** A test CA and a leaf it issued, valid from `notBefore` to `notAfter` (default: yesterday to +30 days). */
export async function issueSigner(window: { notBefore?: Date; notAfter?: Date } = {}): Promise<TestSigner> {
  const caKeys = await rsaKeys()
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=vault-relay test CA',
    keys: caKeys,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  })
  const leafKeys = await rsaKeys()
  const leaf = await x509.X509CertificateGenerator.create({
    subject: 'CN=sns.test.amazonaws.com',
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore: window.notBefore ?? new Date(Date.now() - DAY),
    notAfter: window.notAfter ?? new Date(Date.now() + 30 * DAY),
  })
  return { pem: leaf.toString('pem'), key: await toKeyObject(leafKeys.privateKey) }
}

/** Byte-ordered signed keys per type, written from the AWS docs independently of src/. */
function stringToSign(msg: Record<string, string>): string {
  const keys =
    msg['Type'] === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
  return keys
    .filter((k) => msg[k] !== undefined)
    .map((k) => `${k}\n${msg[k]}\n`)
    .join('')
}

/** Signs `fields` as SNS does, adding SignatureVersion, Signature and SigningCertURL. */
export function signMessage(
  fields: Record<string, string>,
  signer: TestSigner,
  certUrl: string,
  version: '1' | '2' = '1',
): Record<string, string> {
  const signature = sign(version === '1' ? 'sha1' : 'sha256', Buffer.from(stringToSign(fields)), signer.key)
  return {
    ...fields,
    SignatureVersion: version,
    Signature: signature.toString('base64'),
    SigningCertURL: certUrl,
  }
}

/** A loopback HTTP server playing the SNS endpoints the relay calls. */
export interface FakeSns {
  /** `http://127.0.0.1:PORT` */
  base: string
  /** Paths requested, in order (certificates, confirmations, anything). */
  requests: string[]
  /** Serves `pem` at `path` (e.g. `/SimpleNotificationService-test.pem`). */
  serve(path: string, pem: string): string
  /** Answers `path` with `status` and an optional `location` or body. */
  answer(path: string, status: number, options?: { location?: string; body?: string }): string
  close(): Promise<void>
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeSns(): Promise<FakeSns> {
  const routes = new Map<string, { status: number; body: string; location?: string }>()
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push(url)
    const route = routes.get(url.split('?')[0] ?? url)
    if (route === undefined) {
      res.writeHead(404).end('not found')
      return
    }
    const headers: Record<string, string> = { 'content-type': 'text/plain' }
    if (route.location !== undefined) headers['location'] = route.location
    res.writeHead(route.status, headers).end(route.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    base,
    requests,
    serve(path, pem) {
      routes.set(path, { status: 200, body: pem })
      return base + path
    },
    answer(path, status, options = {}) {
      routes.set(path, {
        status,
        body: options.body ?? '',
        ...(options.location ? { location: options.location } : {}),
      })
      return base + path
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
