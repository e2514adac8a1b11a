// @peculiar/x509 for tests (test CAs, SNS signing certificates, TLS certificates for loopback servers).
import { webcrypto } from 'node:crypto'
import type * as X509 from '@peculiar/x509'

installReflectMetadata()
// Imported after the shim: @peculiar/x509 (through tsyringe) throws on load without Reflect metadata.
export const x509: typeof X509 = await import('@peculiar/x509')
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

/** A 2048-bit RSA key pair for certificates. */
async function rsaKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
}

/** A new test CA, and a leaf certificate it issued for `subject`, with the leaf's keys. */
export async function issueLeaf(
  subject: string,
  options: { notBefore?: Date; notAfter?: Date; extensions?: X509.Extension[] } = {},
) {
  const caKeys = await rsaKeys()
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=vault-relay test CA',
    keys: caKeys,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  })
  const keys = await rsaKeys()
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY),
    ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
  })
  return { ca, cert, keys }
}

/** A CA and a server certificate for 127.0.0.1 it signed, in PEM, with the server's PKCS#8 key. */
export async function issueTlsCertificate(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const { ca, cert, keys } = await issueLeaf('CN=kube-apiserver', {
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  })
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
  const body =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${body.join('\n')}\n-----END PRIVATE KEY-----\n`
  return { caPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem }
}
