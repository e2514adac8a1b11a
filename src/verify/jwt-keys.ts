// Configured JOSE keys: JWK or PEM in, KeyObjects out; the key candidates for a token; public JWKs to publish.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
  X509Certificate,
} from 'node:crypto'
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose'
import { RelayError } from '../errors.js'
import { FETCH_FAILURE_TTL_MS, type HttpGet } from '../http/get.js'

/** A configured key, with the kid and alg its JWK named. */
export interface LoadedKey {
  key: KeyObject
  kid?: string | undefined
  alg?: string | undefined
  /** Where it is configured, e.g. `keys[1]`: named in provenance when it has no kid. */
  path?: string
}

/** A key as config lists it: PEM text or a JWK object. */
export type KeyInput = string | Record<string, unknown>

/** The members RFC 7638 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

/** The RFC 7638 SHA-256 thumbprint of an asymmetric key's public half, base64url. */
export function thumbprint(key: KeyObject): string {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' })
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)] ?? []
  const json = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])))
  return createHash('sha256').update(json).digest('base64url')
}

/** A configured key that cannot be used as configured; the message names the reason, never the key. */
class UnusableKey extends Error {}

/** The key type (and curve) each JWS algorithm needs, as jose selects keys for it. */
function jwsAlgFits(alg: string, key: KeyObject): boolean {
  const type = key.type === 'secret' ? 'oct' : key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (/^HS(256|384|512)$/.test(alg)) return type === 'oct'
  if (/^RS(256|384|512)$/.test(alg)) return type === 'rsa'
  if (/^PS(256|384|512)$/.test(alg)) return type === 'rsa' || type === 'rsa-pss'
  if (alg === 'ES256') return type === 'ec' && curve === 'prime256v1'
  if (alg === 'ES384') return type === 'ec' && curve === 'secp384r1'
  if (alg === 'ES512') return type === 'ec' && curve === 'secp521r1'
  if (alg === 'Ed25519') return type === 'ed25519'
  if (alg === 'EdDSA') return type === 'ed25519' || type === 'ed448'
  return false
}

/** JWE key-management algorithms by the key type that can unwrap with them. */
function jweAlgFits(alg: string, key: KeyObject): boolean {
  const type = key.type === 'secret' ? 'oct' : key.asymmetricKeyType
  if (/^RSA-OAEP(-256|-384|-512)?$/.test(alg) || alg === 'RSA1_5') return type === 'rsa'
  if (/^ECDH-ES(\+A(128|192|256)KW)?$/.test(alg)) return type === 'ec' || type === 'x25519' || type === 'x448'
  if (/^A(128|192|256)(GCM)?KW$/.test(alg) || alg === 'dir') return type === 'oct'
  return false
}

/** The key_ops that let a key do its job here (RFC 7517 4.3; jose skips a key whose key_ops lack it). */
const OPS: Record<'public' | 'private', readonly string[]> = {
  public: ['verify'],
  private: ['decrypt', 'unwrapKey', 'deriveKey', 'deriveBits'],
}

/** Applies jose's key-selection rules to a configured JWK once, at load: use, key_ops, alg. */
function checkJwkUse(input: Record<string, unknown>, key: KeyObject, kind: 'public' | 'private'): void {
  const use = input.use
  if (use !== undefined && use !== (kind === 'public' ? 'sig' : 'enc'))
    throw new UnusableKey(`use is not ${kind === 'public' ? 'sig' : 'enc'}`)
  if (Object.hasOwn(input, 'key_ops')) {
    const ops = input.key_ops
    if (!Array.isArray(ops) || !ops.some((op) => OPS[kind].includes(op as string)))
      throw new UnusableKey(`key_ops does not include ${OPS[kind].join(' or ')}`)
  }
  if (Object.hasOwn(input, 'alg')) {
    const alg = input.alg
    const fits = kind === 'public' ? jwsAlgFits : jweAlgFits
    if (typeof alg !== 'string' || !fits(alg, key))
      throw new UnusableKey(
        `alg is not a ${kind === 'public' ? 'JWS' : 'JWE key-management'} algorithm for this key`,
      )
  }
}

/** Loads a configured key: a JWK, a PEM SPKI/PKCS#8 key or a PEM X.509 certificate; throws naming only the path. */
export function loadKey(input: KeyInput, kind: 'public' | 'private', path: string): LoadedKey {
  try {
    if (typeof input === 'string') {
      if (kind === 'public' && input.includes('-----BEGIN CERTIFICATE-----')) {
        return { key: new X509Certificate(input).publicKey }
      }
      return { key: kind === 'public' ? createPublicKey(input) : createPrivateKey(input) }
    }
    const meta = {
      kid: typeof input.kid === 'string' ? input.kid : undefined,
      alg: typeof input.alg === 'string' ? input.alg : undefined,
    }
    let key: KeyObject
    if (input.kty === 'oct') {
      if (typeof input.k !== 'string' || input.k === '') throw new Error('empty key')
      key = createSecretKey(Buffer.from(input.k, 'base64url'))
    } else {
      const jwk = { key: input as JsonWebKey, format: 'jwk' as const }
      key = kind === 'public' ? createPublicKey(jwk) : createPrivateKey(jwk)
    }
    checkJwkUse(input, key, kind)
    return { key, ...meta }
  } catch (err) {
    if (err instanceof UnusableKey) throw new Error(`jwt: ${path} cannot be used: ${err.message}`)
    throw new Error(`jwt: ${path} is not a valid ${kind} key`)
  }
}

/** The keys worth trying for a token: a matching kid first, then keys without a kid; alg must fit if set. */
export function candidates(
  keys: readonly LoadedKey[],
  h: { kid?: string | undefined; alg?: string | undefined },
): LoadedKey[] {
  const fits = keys.filter(
    (k) =>
      (k.alg === undefined || k.alg === h.alg) &&
      (h.kid === undefined || k.kid === undefined || k.kid === h.kid),
  )
  return [...fits.filter((k) => k.kid !== undefined), ...fits.filter((k) => k.kid === undefined)]
}

/** The JWE key-management algorithm a sender should use with a key of this type. */
function defaultEncAlg(key: KeyObject): string {
  return key.asymmetricKeyType === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW'
}

/**
 * The public halves of decryption keys as a JWK Set, in order (the first is the one to encrypt to),
 * each with `kid`, `use: enc` and `alg`. Symmetric keys are never published; repeats are listed once.
 */
export function publicEncryptionJwks(inputs: readonly KeyInput[]): { keys: Record<string, unknown>[] } {
  const keys: Record<string, unknown>[] = []
  const seen = new Set<string>()
  inputs.forEach((input, i) => {
    const loaded = loadKey(input, 'private', `decryptionKeys[${i}]`)
    if (loaded.key.type !== 'private') return
    const print = thumbprint(loaded.key)
    if (seen.has(print)) return
    seen.add(print)
    const { kty, crv, x, y, n, e } = createPublicKey(loaded.key).export({ format: 'jwk' })
    const members = Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)
    keys.push({
      ...Object.fromEntries(members),
      kid: loaded.kid ?? print,
      use: 'enc',
      alg: loaded.alg ?? defaultEncAlg(loaded.key),
    })
  })
  return { keys }
}

/** One trusted issuer (or list of them) and the keys its tokens are signed with. */
export interface Trust {
  issuer: string | string[]
  keys: LoadedKey[]
  remote?: JWTVerifyGetKey | undefined
}

/** How long one JWKS fetch may take. */
export const JWKS_TIMEOUT_MS = 5_000

/** A JWKS (or a discovery document) is a few KiB; anything far larger is not one, and is refused unread. */
export const JWKS_MAX_BYTES = 256 * 1024

const JWKS_ACCEPT = 'application/jwk-set+json, application/json'

/** The fetch jose's remote key set calls (the global fetch when absent). */
type JwksFetch = (href: string, init: RequestInit) => Promise<Response>

/**
 * The fetch jose's remote key set is given: the bounded GET (no redirect, `JWKS_TIMEOUT_MS`,
 * `JWKS_MAX_BYTES`), a 200 holding a JSON `{"keys": [...]}` or a failure, and a failure remembered for
 * `FETCH_FAILURE_TTL_MS` so that a failing key server is not fetched again for every unknown kid.
 */
function boundedJwksFetch(get: HttpGet, headers: (href: string) => Record<string, string>): JwksFetch {
  let failure: { at: number; error: unknown } | undefined
  return async (href) => {
    if (failure !== undefined && Date.now() - failure.at < FETCH_FAILURE_TTL_MS) throw failure.error
    const extra = headers(href)
    try {
      const res = await get(href, {
        timeoutMs: JWKS_TIMEOUT_MS,
        maxBytes: JWKS_MAX_BYTES,
        headers: { accept: JWKS_ACCEPT, ...extra },
      })
      if (res.status !== 200) throw new Error(`JWKS fetch answered ${res.status}`)
      let doc: unknown
      try {
        doc = JSON.parse(res.body.toString('utf8'))
      } catch {
        throw new Error('JWKS is not JSON')
      }
      if (!Array.isArray((doc as { keys?: unknown } | null)?.keys)) throw new Error('JWKS has no keys array')
      failure = undefined
      return new Response(new Uint8Array(res.body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      })
    } catch (err) {
      failure = { at: Date.now(), error: err }
      throw err
    }
  }
}

/**
 * The keys at a JWKS URL, fetched with the bounded GET: jose's remote key set (cached, refetched on an
 * unknown kid at most once per cooldown) over `boundedJwksFetch`. A fetch failure reads as 'signing keys
 * unavailable', never as a bad token: a 503 the sender retries, the cause (e.g. `response over 262144
 * bytes`) going to the log only. `headers` gives extra request headers per URL (a cluster's bearer token).
 */
export function boundedRemoteKeys(
  url: string,
  get: HttpGet,
  headers: (href: string) => Record<string, string> = () => ({}),
): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), {
    timeoutDuration: JWKS_TIMEOUT_MS,
    [customFetch]: boundedJwksFetch(get, headers),
  })
  return async (protectedHeader, token) => {
    try {
      return await jwks(protectedHeader, token)
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err
      if (err instanceof errors.JOSENotSupported) throw err
      throw new RelayError('ERR_KEYS_UNAVAILABLE', 'signing keys unavailable', {
        retryAfter: FETCH_FAILURE_TTL_MS / 1000,
        cause: err,
      })
    }
  }
}
