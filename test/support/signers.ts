// Real signers for tests: the headers and tokens each provider sends, made with node:crypto and jose.
import { KeyObject, randomBytes, randomUUID, sign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  CompactEncrypt,
  type CryptoKey,
  EncryptJWT,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from 'jose'

type Body = string | Uint8Array

import { standardWebhookSignature, stripeSignature } from '../../src/cli/sign.js'

// The primitives `vault-relay send` signs with, so the tests and the CLI sign alike.
export {
  basicAuthorization,
  type HmacOptions,
  hmacSignature,
  standardWebhookSignature,
  stripeSignature,
} from '../../src/cli/sign.js'

/** A `Stripe-Signature` value with one `v1` per secret, in order. */
export function stripeHeader(secrets: string | string[], t: number, body: Body): string {
  const list = Array.isArray(secrets) ? secrets : [secrets]
  return [`t=${t}`, ...list.map((s) => `v1=${stripeSignature(s, t, body)}`)].join(',')
}

/** A fresh Standard Webhooks secret: `whsec_` + base64 of 24 random bytes. */
export function standardWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

/** An Ed25519 signer for `v1a` signatures; `publicKey` is in `whpk_` form, as a config lists it. */
export async function ed25519Signer(): Promise<{ privateKey: KeyObject; publicKey: string }> {
  const pair = await generateKeyPair('Ed25519', { extractable: true })
  const jwk = await exportJWK(pair.publicKey)
  const raw = Buffer.from(String(jwk.x), 'base64url')
  return { privateKey: KeyObject.from(pair.privateKey), publicKey: `whpk_${raw.toString('base64')}` }
}

/** A `v1a,<base64>` Standard Webhooks Ed25519 signature. */
export function standardWebhookEd25519Signature(
  privateKey: KeyObject,
  id: string,
  timestamp: number,
  body: Body,
): string {
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(body)])
  return `v1a,${sign(null, content, privateKey).toString('base64')}`
}

/** What to sign a Standard Webhooks request with. */
export interface StandardWebhookRequest {
  id: string
  timestamp: number
  body: Body
  secrets?: string[]
  privateKeys?: KeyObject[]
  prefix?: 'webhook' | 'svix'
}

/** The three Standard Webhooks headers, signed with every given secret and private key. */
export function standardWebhookHeaders(r: StandardWebhookRequest): Record<string, string> {
  const prefix = r.prefix ?? 'webhook'
  const signatures = [
    ...(r.secrets ?? []).map((s) => standardWebhookSignature(s, r.id, r.timestamp, r.body)),
    ...(r.privateKeys ?? []).map((k) => standardWebhookEd25519Signature(k, r.id, r.timestamp, r.body)),
  ]
  return {
    [`${prefix}-id`]: r.id,
    [`${prefix}-timestamp`]: String(r.timestamp),
    [`${prefix}-signature`]: signatures.join(' '),
  }
}

/** A JWS signing key pair, with the public half as a JWK (with kid and alg) and as PEM SPKI. */
export interface SigningKey {
  alg: string
  kid: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  publicJwk: JWK
  publicPem: string
}

/** Generates a signing key pair for `alg` (ES256 by default). */
export async function generateSigningKey(alg = 'ES256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { alg, kid, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) }
}

/** Signs `claims` as a compact JWT with `key` (its alg and kid in the header unless `header` overrides). */
export async function makeJwt(
  claims: JWTPayload,
  key: Pick<SigningKey, 'alg' | 'privateKey'> & { kid?: string },
  header: Record<string, unknown> = {},
): Promise<string> {
  const kid = key.kid === undefined ? {} : { kid: key.kid }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...kid, ...header })
    .sign(key.privateKey)
}

/** An `alg: none` JWT, which no verifier may accept. */
export function makeUnsecuredJwt(claims: JWTPayload): string {
  return new UnsecuredJWT(claims).encode()
}

/** A JWE key pair; the private half as a JWK and as PEM PKCS#8, as a config lists decryption keys. */
export interface EncryptionKey {
  publicKey: CryptoKey
  privateJwk: JWK
  privatePem: string
}

/** Generates an ECDH-ES (P-256) key pair for JWE. */
export async function generateEncryptionKey(): Promise<EncryptionKey> {
  const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  return { publicKey, privateJwk: await exportJWK(privateKey), privatePem: await exportPKCS8(privateKey) }
}

/** Encrypts a signed JWT into a nested JWE (`cty: JWT`), ECDH-ES+A256KW / A256GCM. */
export async function encryptJwt(jwt: string, publicKey: CryptoKey): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(jwt))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'JWT' })
    .encrypt(publicKey)
}

/** Encrypts bare claims (no signature inside), which the relay must refuse. */
export async function encryptClaims(claims: JWTPayload, publicKey: CryptoKey): Promise<string> {
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
    .encrypt(publicKey)
}

function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return Buffer.concat([Buffer.from([tag, ...length]), body])
}

/** A minimal self-signed X.509 (v1) certificate in PEM for an ES256 key, valid 2020 to 2049. */
export function selfSignedCertificate(key: Pick<SigningKey, 'privateKey' | 'publicKey'>): string {
  const ecdsaWithSha256 = der(0x30, Buffer.from('06082a8648ce3d040302', 'hex'))
  const name = der(
    0x30,
    der(0x31, der(0x30, Buffer.from('0603550403', 'hex'), der(0x0c, Buffer.from('relay test')))),
  )
  const validity = der(0x30, der(0x17, Buffer.from('200101000000Z')), der(0x17, Buffer.from('491231235959Z')))
  const spki = KeyObject.from(key.publicKey).export({ type: 'spki', format: 'der' })
  const tbs = der(0x30, der(0x02, Buffer.from([1])), ecdsaWithSha256, name, validity, name, spki)
  const signature = sign('sha256', tbs, KeyObject.from(key.privateKey))
  const cert = der(0x30, tbs, ecdsaWithSha256, der(0x03, Buffer.from([0]), signature))
  const lines = cert.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

/** A JWKS endpoint on 127.0.0.1 whose keys and status a test can change. */
export interface JwksServer {
  url: string
  /** How many times the key set was fetched. */
  readonly requests: number
  setKeys(keys: JWK[]): void
  setStatus(status: number): void
  close(): Promise<void>
}

/** Serves `{ keys }` on 127.0.0.1, port 0. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let current = keys
  let status = 200
  let requests = 0
  const server = createServer((_req, res) => {
    requests += 1
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: current }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    get requests() {
      return requests
    },
    setKeys: (next) => {
      current = next
    },
    setStatus: (next) => {
      status = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
