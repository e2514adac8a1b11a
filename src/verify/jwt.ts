// JWT verification with jose: a signed (or signed-then-encrypted) token as the body, or a Bearer token.
import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
  X509Certificate,
} from 'node:crypto'
import {
  type CryptoKey,
  compactDecrypt,
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  UnsecuredJWT,
} from 'jose'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { field, parseJsonBody, secondsToMs } from './compare.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a JWT source. */
export type JwtConfig = Extract<VerifyConfig, { type: 'jwt' }>

/** What the JWT verifier may be given: the fetch used for `jwksUrl` (the global fetch by default). */
export interface JwtDeps {
  fetch?: typeof fetch
}

/** How long one JWKS fetch may take. */
const JWKS_TIMEOUT_MS = 5_000
const COMPACT = /^[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2}(?:(?:\.[A-Za-z0-9_-]*){2})?$/
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i

interface LoadedKey {
  key: KeyObject
  kid?: string | undefined
  alg?: string | undefined
  /** Where it is configured, e.g. `keys[1]`: named in provenance when it has no kid. */
  path?: string
}

type KeyInput = string | Record<string, unknown>

/** Loads a configured key: a JWK, a PEM SPKI/PKCS#8 key or a PEM X.509 certificate; throws naming only the path. */
function loadKey(input: KeyInput, kind: 'public' | 'private', path: string): LoadedKey {
  try {
    if (typeof input === 'string') {
      if (kind === 'public' && input.includes('-----BEGIN CERTIFICATE-----')) {
        return { key: new X509Certificate(input).publicKey }
      }
      return { key: kind === 'public' ? createPublicKey(input) : createPrivateKey(input) }
    }
    const use = input.use
    if (use !== undefined && use !== (kind === 'public' ? 'sig' : 'enc')) throw new Error('wrong use')
    const meta = {
      kid: typeof input.kid === 'string' ? input.kid : undefined,
      alg: typeof input.alg === 'string' ? input.alg : undefined,
    }
    if (input.kty === 'oct') {
      if (typeof input.k !== 'string' || input.k === '') throw new Error('empty key')
      return { key: createSecretKey(Buffer.from(input.k, 'base64url')), ...meta }
    }
    const jwk = { key: input as JsonWebKey, format: 'jwk' as const }
    return { key: kind === 'public' ? createPublicKey(jwk) : createPrivateKey(jwk), ...meta }
  } catch {
    throw new Error(`jwt: ${path} is not a valid ${kind} key`)
  }
}

/** The keys worth trying for a token: a matching kid first, then keys without a kid; alg must fit if set. */
function candidates(keys: readonly LoadedKey[], h: { kid?: string | undefined; alg?: string | undefined }) {
  const fits = keys.filter(
    (k) =>
      (k.alg === undefined || k.alg === h.alg) &&
      (h.kid === undefined || k.kid === undefined || k.kid === h.kid),
  )
  return [...fits.filter((k) => k.kid !== undefined), ...fits.filter((k) => k.kid === undefined)]
}

/** The protected header of a compact token; anything unreadable is a malformed token. */
function protectedHeader(token: string) {
  try {
    return decodeProtectedHeader(token)
  } catch {
    throw new errors.JWTInvalid('malformed token')
  }
}

/** Errors that only mean "not this key": try the next one. */
function keyMismatch(err: unknown): boolean {
  return (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWEDecryptionFailed ||
    err instanceof errors.JOSENotSupported ||
    err instanceof TypeError
  )
}

/** Turns any failure into a refusal with a short constant reason; jose errors carry claims, so no cause. */
function refusal(err: unknown, malformed: 'ERR_BODY_INVALID' | 'ERR_TOKEN_INVALID'): RelayError {
  if (err instanceof RelayError) return err
  if (err instanceof errors.JWTExpired)
    return new RelayError('ERR_TIMESTAMP_STALE', 'token expired or too old')
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new RelayError('ERR_CLAIM_MISMATCH', 'required claim missing')
    const early = err.claim === 'nbf' || err.claim === 'iat'
    if (early) return new RelayError('ERR_TIMESTAMP_STALE', 'token not yet valid')
    const reason =
      err.claim === 'iss' ? 'issuer mismatch' : err.claim === 'aud' ? 'audience mismatch' : 'claim mismatch'
    return new RelayError('ERR_CLAIM_MISMATCH', reason)
  }
  const bad =
    err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JWEInvalid
  if (bad) return new RelayError(malformed, 'malformed token')
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new RelayError('ERR_TOKEN_INVALID', 'algorithm not allowed')
  if (err instanceof errors.JWKSNoMatchingKey)
    return new RelayError('ERR_TOKEN_INVALID', 'no matching signing key')
  return new RelayError('ERR_TOKEN_INVALID', 'token verification failed')
}

/** Throws at startup when `maxTokenAge` is a string jose cannot read, rather than refusing every token later. */
function checkMaxTokenAge(maxTokenAge: JwtConfig['maxTokenAge']): void {
  if (typeof maxTokenAge !== 'string') return
  try {
    UnsecuredJWT.decode(new UnsecuredJWT({}).setIssuedAt().encode(), { maxTokenAge })
  } catch {
    throw new Error('jwt: maxTokenAge is not a valid duration')
  }
}

/** Wraps jose's remote JWKS so a fetch failure reads as 'signing keys unavailable', never as a bad token: a 503 the sender retries. */
function remoteKeys(url: string, deps: JwtDeps): JWTVerifyGetKey {
  const injected = deps.fetch
  const jwks = createRemoteJWKSet(new URL(url), {
    timeoutDuration: JWKS_TIMEOUT_MS,
    ...(injected === undefined
      ? {}
      : { [customFetch]: (href: string, init: RequestInit) => injected(href, init) }),
  })
  return async (protectedHeader, token) => {
    try {
      return await jwks(protectedHeader, token)
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err
      if (err instanceof errors.JOSENotSupported) throw err
      throw new RelayError('ERR_KEYS_UNAVAILABLE', 'signing keys unavailable', { retryAfter: 30 })
    }
  }
}

/**
 * Verifies JWTs with jose. `in: body`: the body is a compact JWS whose claims are the payload, or, when
 * `decryptionKeys` are set, a compact JWE that must hold a signed JWT (`cty: JWT`), since asymmetric
 * encryption alone does not say who sent it. `in: header`: `Authorization: Bearer <jwt>` authenticates and
 * the JSON body is the payload. Keys come from `keys` (tried by kid, then each) and/or `jwksUrl`.
 * Event id and time are the `jti` and `iat` claims of a body token only: a Bearer token is often reused
 * across many events, so its `jti` would make them all look like duplicates.
 */
export function createJwtVerifier(config: JwtConfig, deps: JwtDeps = {}): Verifier {
  checkMaxTokenAge(config.maxTokenAge)
  const keys = (config.keys ?? []).map((k, i) => ({
    ...loadKey(k, 'public', `keys[${i}]`),
    path: `keys[${i}]`,
  }))
  const decryptionKeys = (config.decryptionKeys ?? []).map((k, i) =>
    loadKey(k, 'private', `decryptionKeys[${i}]`),
  )
  const remote = config.jwksUrl === undefined ? undefined : remoteKeys(config.jwksUrl, deps)
  const expected = Object.entries(config.claims)

  /** The claims, and which key verified them (`kid:…` or `keys[i]`, `jwks` when the JWKS key has no kid). */
  async function verifySigned(token: string, now: number): Promise<{ claims: JWTPayload; keyId: string }> {
    const h = protectedHeader(token)
    if (typeof h.alg !== 'string' || !config.algorithms.includes(h.alg)) {
      throw new RelayError('ERR_TOKEN_INVALID', 'algorithm not allowed')
    }
    const options: JWTVerifyOptions = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.clockToleranceSeconds,
      currentDate: new Date(now),
      ...(config.maxTokenAge === undefined ? {} : { maxTokenAge: config.maxTokenAge }),
    }
    const attempt = async (key: KeyObject | CryptoKey) => {
      try {
        return (await jwtVerify(token, key, options)).payload
      } catch (err) {
        if (keyMismatch(err)) return undefined
        throw err
      }
    }
    for (const { key, kid, path } of candidates(keys, h)) {
      const claims = await attempt(key)
      if (claims !== undefined) return { claims, keyId: kid === undefined ? (path ?? 'keys') : `kid:${kid}` }
    }
    if (remote !== undefined) {
      const keyId = typeof h.kid === 'string' ? `jwks kid:${h.kid}` : 'jwks'
      try {
        return { claims: (await jwtVerify(token, remote, options)).payload, keyId }
      } catch (err) {
        if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
        for await (const key of err) {
          const claims = await attempt(key)
          if (claims !== undefined) return { claims, keyId }
        }
      }
    }
    throw new RelayError('ERR_TOKEN_INVALID', 'no key verified the token')
  }

  async function decryptNested(jwe: string): Promise<string> {
    const options = {
      keyManagementAlgorithms: config.keyManagementAlgorithms,
      contentEncryptionAlgorithms: config.contentEncryptionAlgorithms,
    }
    for (const { key } of candidates(decryptionKeys, protectedHeader(jwe))) {
      try {
        const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, options)
        if (protectedHeader.cty?.toUpperCase() !== 'JWT') {
          throw new RelayError('ERR_TOKEN_INVALID', 'encrypted token does not hold a signed JWT')
        }
        return new TextDecoder().decode(plaintext)
      } catch (err) {
        if (!keyMismatch(err)) throw err
      }
    }
    throw new RelayError('ERR_TOKEN_INVALID', 'no key decrypted the token')
  }

  async function fromBody(body: Buffer, now: number): Promise<Verified> {
    const text = body.toString('latin1').trim()
    if (!COMPACT.test(text)) throw new RelayError('ERR_BODY_INVALID', 'body is not a compact token')
    const encrypted = text.split('.').length === 5
    if (encrypted !== decryptionKeys.length > 0) {
      throw new RelayError(
        'ERR_BODY_INVALID',
        encrypted ? 'encrypted token not expected' : 'encrypted token required',
      )
    }
    const { claims, keyId } = await verifySigned(encrypted ? await decryptNested(text) : text, now)
    const eventTime = secondsToMs(claims.iat)
    return {
      payload: claims,
      keyId,
      ...(typeof claims.jti === 'string' && claims.jti !== '' ? { eventId: claims.jti } : {}),
      ...(eventTime === undefined ? {} : { eventTime }),
    }
  }

  return {
    async verify({ headers, body, now }: VerifyInput): Promise<Verified> {
      const inHeader = config.in === 'header'
      try {
        let verified: Verified
        if (inHeader) {
          const value = header(headers, 'authorization')
          if (value === undefined || value.trim() === '') {
            throw new RelayError('ERR_SIGNATURE_MISSING', 'missing authorization header')
          }
          const token = BEARER.exec(value)?.[1]
          if (token === undefined)
            throw new RelayError('ERR_TOKEN_INVALID', 'authorization is not a bearer token')
          const { claims, keyId } = await verifySigned(token, now)
          verified = { payload: claims, keyId }
        } else {
          verified = await fromBody(body, now)
        }
        for (const [name, value] of expected) {
          if (field(verified.payload, name) !== value)
            throw new RelayError('ERR_CLAIM_MISMATCH', 'claim mismatch')
        }
        return inHeader ? { ...verified, payload: parseJsonBody(body) } : verified
      } catch (err) {
        throw refusal(err, inHeader ? 'ERR_TOKEN_INVALID' : 'ERR_BODY_INVALID')
      }
    },
  }
}
