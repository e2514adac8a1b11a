// JWT verification with jose: a signed (or signed-then-encrypted) token as the body, or a Bearer token.
import type { KeyObject } from 'node:crypto'
import {
  type CryptoKey,
  compactDecrypt,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
  UnsecuredJWT,
} from 'jose'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { outboundGet } from '../http/get.js'
import { field, parseJsonBody, secondsToMs, sha256Hex } from './compare.js'
import { boundedRemoteKeys, candidates, loadKey, type Trust } from './jwt-keys.js'
import { type KeyFetchDeps, kubernetesTrust, notifierEventMeta, serviceAccountSubject } from './kubernetes.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a JWT source. */
export type JwtConfig = Extract<VerifyConfig, { type: 'jwt' }>

/** What the JWT verifier may be given: how it reaches `jwksUrl` and Kubernetes issuers (global fetch by default). */
export type JwtDeps = KeyFetchDeps

const COMPACT = /^[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2}(?:(?:\.[A-Za-z0-9_-]*){2})?$/
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i

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

/** The unverified `iss` of a token, only to pick which issuer's keys to check it with. */
function unverifiedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token)
    return iss
  } catch {
    throw new errors.JWTInvalid('malformed token')
  }
}

/**
 * Verifies JWTs with jose. `in: body`: the body is a compact JWS whose claims are the payload, or, when
 * `decryptionKeys` are set, a compact JWE that must hold a signed JWT (`cty: JWT`), since asymmetric
 * encryption alone does not say who sent it. `in: header`: `Authorization: Bearer <jwt>` authenticates and
 * the JSON body is the payload; with `decryptionKeys` the body is a compact JWE of that JSON (the bearer
 * already says who sent it). Keys come from `keys` (tried by kid, then each) and/or `jwksUrl`, and for
 * `kubernetes` from each cluster's issuer by OIDC discovery, the token's `iss` choosing the cluster.
 * Event id and time are the `jti` and `iat` claims of a body token only: a Bearer token is often reused
 * across many events, so its `jti` would make them all look like duplicates. From the watch notifier
 * (`kubernetes`), they are the event's own `id` (Secret uid and resourceVersion) and `time`.
 */
export function createJwtVerifier(config: JwtConfig, deps: JwtDeps = {}): Verifier {
  checkMaxTokenAge(config.maxTokenAge)
  const decryptionKeys = (config.decryptionKeys ?? []).map((k, i) =>
    loadKey(k, 'private', `decryptionKeys[${i}]`),
  )
  const trusts: Trust[] = []
  if (config.issuer !== undefined) {
    trusts.push({
      issuer: config.issuer,
      keys: (config.keys ?? []).map((k, i) => {
        const loaded = loadKey(k, 'public', `keys[${i}]`)
        // A key whose alg is not allowed could never verify anything: say so now, not on every token.
        if (loaded.alg !== undefined && !config.algorithms.includes(loaded.alg)) {
          throw new Error(`jwt: keys[${i}] cannot be used: its alg ${loaded.alg} is not in algorithms`)
        }
        return { ...loaded, path: `keys[${i}]` }
      }),
      remote: config.jwksUrl === undefined ? undefined : boundedRemoteKeys(config.jwksUrl, outboundGet(deps)),
    })
  }
  const cluster = config.kubernetes === undefined ? undefined : kubernetesTrust(config.kubernetes, deps)
  if (cluster !== undefined) trusts.push(...cluster.trusts)
  const expected = Object.entries({
    ...config.claims,
    ...(config.kubernetes === undefined ? {} : { sub: serviceAccountSubject(config.kubernetes) }),
  })

  /** The issuer a token claims to be from; with one, the token is checked against it whatever it says. */
  function trustFor(token: string): Trust {
    if (trusts.length === 1) return trusts[0]!
    const iss = unverifiedIssuer(token)
    const trust = trusts.find((t) => [t.issuer].flat().includes(iss ?? ''))
    if (trust === undefined) throw new RelayError('ERR_CLAIM_MISMATCH', 'issuer mismatch')
    return trust
  }

  /** The claims, and which key verified them (`kid:…` or `keys[i]`, `jwks` when the JWKS key has no kid). */
  async function verifySigned(
    token: string,
    now: number,
    carriesEvent: boolean,
  ): Promise<{ claims: JWTPayload; keyId: string }> {
    const found = await findKey(token, now, carriesEvent)
    // jose checks iat against the clock only with maxTokenAge; a token from the future is never valid.
    const iat = secondsToMs(found.claims.iat)
    if (iat !== undefined && iat > now + config.clockToleranceSeconds * 1000) {
      throw new RelayError('ERR_TIMESTAMP_STALE', 'token not yet valid')
    }
    return found
  }

  /** The claims a token must carry: a body token's iat orders the event, its exp (or maxTokenAge) ends a replay. */
  function requiredClaims(carriesEvent: boolean): string[] {
    if (!carriesEvent) return []
    return [
      ...(config.requireIssuedAt ? ['iat'] : []),
      ...(config.requireExpiry && config.maxTokenAge === undefined ? ['exp'] : []),
    ]
  }

  async function findKey(
    token: string,
    now: number,
    carriesEvent: boolean,
  ): Promise<{ claims: JWTPayload; keyId: string }> {
    const h = protectedHeader(token)
    if (typeof h.alg !== 'string' || !config.algorithms.includes(h.alg)) {
      throw new RelayError('ERR_TOKEN_INVALID', 'algorithm not allowed')
    }
    const { issuer, keys, remote } = trustFor(token)
    const options: JWTVerifyOptions = {
      issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.clockToleranceSeconds,
      currentDate: new Date(now),
      requiredClaims: requiredClaims(carriesEvent),
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

  /** Decrypts a compact JWE with the first key that can; a body token must hold a signed JWT. */
  async function decrypt(jwe: string, nested: boolean): Promise<string> {
    const options = {
      keyManagementAlgorithms: config.keyManagementAlgorithms,
      contentEncryptionAlgorithms: config.contentEncryptionAlgorithms,
    }
    for (const { key } of candidates(decryptionKeys, protectedHeader(jwe))) {
      try {
        const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, options)
        if (nested && protectedHeader.cty?.toUpperCase() !== 'JWT') {
          throw new RelayError('ERR_TOKEN_INVALID', 'encrypted token does not hold a signed JWT')
        }
        return new TextDecoder().decode(plaintext)
      } catch (err) {
        if (!keyMismatch(err)) throw err
      }
    }
    throw new RelayError('ERR_TOKEN_INVALID', `no key decrypted the ${nested ? 'token' : 'body'}`)
  }

  /** Whether `text` is a compact JWE, checking it is one exactly when decryption keys are set. */
  function encryptedAsExpected(text: string, noun: 'token' | 'body'): boolean {
    if (!COMPACT.test(text)) {
      throw new RelayError('ERR_BODY_INVALID', `body is not a compact ${noun === 'token' ? 'token' : 'JWE'}`)
    }
    const encrypted = text.split('.').length === 5
    if (encrypted !== decryptionKeys.length > 0) {
      throw new RelayError(
        'ERR_BODY_INVALID',
        encrypted ? `encrypted ${noun} not expected` : `encrypted ${noun} required`,
      )
    }
    return encrypted
  }

  async function fromBody(body: Buffer, now: number): Promise<Verified> {
    const text = body.toString('latin1').trim()
    const encrypted = encryptedAsExpected(text, 'token')
    const token = encrypted ? await decrypt(text, true) : text
    const { claims, keyId } = await verifySigned(token, now, true)
    const eventTime = secondsToMs(claims.iat)
    // Without jti, the id is the hash of the JWS signing input: padding, a re-encryption or a second
    // signature over the same claims is the same event, never a new one that could roll a value back.
    const signingInput = token.split('.').slice(0, 2).join('.')
    return {
      payload: claims,
      keyId,
      eventId: typeof claims.jti === 'string' && claims.jti !== '' ? claims.jti : sha256Hex(signingInput),
      ...(eventTime === undefined ? {} : { eventTime }),
    }
  }

  /** The JSON payload beside a Bearer token: the body itself, or the JWE it is when keys are set. */
  async function headerPayload(body: Buffer): Promise<Verified> {
    if (decryptionKeys.length === 0) return { payload: parseJsonBody(body) }
    const text = body.toString('latin1').trim()
    encryptedAsExpected(text, 'body')
    const plaintext = await decrypt(text, false).catch((err: unknown) => {
      throw refusal(err, 'ERR_BODY_INVALID')
    })
    const payload = parseJsonBody(Buffer.from(plaintext))
    return { payload, ...(cluster === undefined ? {} : notifierEventMeta(payload)) }
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
          const { claims, keyId } = await verifySigned(token, now, false)
          verified = { payload: claims, keyId }
        } else {
          verified = await fromBody(body, now)
        }
        for (const [name, value] of expected) {
          const got = field(verified.payload, name)
          if (Array.isArray(value) ? !value.includes(got as never) : got !== value)
            throw new RelayError('ERR_CLAIM_MISMATCH', 'claim mismatch')
        }
        return inHeader ? { ...(await headerPayload(body)), keyId: verified.keyId } : verified
      } catch (err) {
        throw refusal(err, inHeader ? 'ERR_TOKEN_INVALID' : 'ERR_BODY_INVALID')
      }
    },
    close: () => cluster?.close(),
  }
}
