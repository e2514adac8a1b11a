// The `kubernetes` convenience of jwt sources: each cluster's service-account issuer, its signing keys
// found by OIDC discovery (with the cluster's CA and a bearer token where the JWKS is not anonymous),
// the service account pinned as `sub`, and the event id and time of the watch notifier's events.
import { readFileSync } from 'node:fs'
import type { JWTVerifyGetKey } from 'jose'
import type { Dispatcher } from 'undici'
import type { VerifyConfig } from '../config/schema.js'
import { createTokenSource } from '../config/token.js'
import { RelayError } from '../errors.js'
import { FETCH_FAILURE_TTL_MS, type HttpGet, outboundGet, rememberFailure, undiciGet } from '../http/get.js'
import { createDispatcher, type ProxyConfig } from '../http/outbound.js'
import { boundedRemoteKeys, JWKS_MAX_BYTES, JWKS_TIMEOUT_MS, type Trust } from './jwt-keys.js'
import type { Verified } from './types.js'

/** The `kubernetes` block of a jwt source. */
export type KubernetesConfig = NonNullable<Extract<VerifyConfig, { type: 'jwt' }>['kubernetes']>
type IssuerConfig = KubernetesConfig['issuers'][number]

/** `<namespace>:<name>` as the `sub` claim of that service account's tokens. */
export function serviceAccountSubject(config: KubernetesConfig): string {
  return `system:serviceaccount:${config.serviceAccount}`
}

/** How a jwt verifier reaches remote keys: the registry's `VerifierDeps`, less the logger. */
export interface KeyFetchDeps {
  /** The proxy-aware dispatcher (undici's global one when unset). */
  dispatcher?: Dispatcher
  /** The proxy an issuer with its own `caFile` goes through. */
  proxy?: ProxyConfig
  /** Used instead of `dispatcher` where given (tests). */
  fetch?: typeof fetch
}

/** The issuers' trusts, and `close` for their connection pools. */
export interface KubernetesTrust {
  trusts: Trust[]
  close(): void
}

/**
 * The signing keys of one cluster: its JWKS URL (configured, or discovered once and again after a failure).
 * The bearer token goes only to the issuer's origin and to the JWKS URL its own discovery document names,
 * never to a configured `jwksUrl` elsewhere (a public mirror must not see the cluster's token).
 */
function issuerKeys(issuer: IssuerConfig, get: HttpGet, headers: () => Record<string, string>) {
  const tokenOrigins = new Set([new URL(issuer.issuer).origin])
  const jwksHeaders = (href: string) => (tokenOrigins.has(new URL(href).origin) ? headers() : {})
  async function discover(): Promise<string> {
    const url = `${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
    const res = await get(url, { timeoutMs: JWKS_TIMEOUT_MS, maxBytes: JWKS_MAX_BYTES, headers: headers() })
    if (res.status !== 200) throw new Error(`discovery answered ${res.status}`)
    let doc: { issuer?: unknown; jwks_uri?: unknown }
    try {
      doc = JSON.parse(res.body.toString('utf8'))
    } catch {
      // JSON.parse's message quotes the body: never let a server's text reach the log
      throw new Error('discovery is not JSON')
    }
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== issuer.issuer) throw new Error('discovery names another issuer')
    if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri')
    const jwksUri = new URL(doc.jwks_uri)
    tokenOrigins.add(jwksUri.origin)
    return jwksUri.href
  }
  // A failed discovery is remembered as long as a failed key fetch is, then tried again.
  const load = rememberFailure(async () =>
    boundedRemoteKeys(issuer.jwksUrl ?? (await discover()), get, jwksHeaders),
  )
  let keys: JWTVerifyGetKey | undefined
  const getKey: JWTVerifyGetKey = async (protectedHeader, token) => {
    try {
      keys ??= await load()
    } catch (err) {
      throw keysUnavailable(err)
    }
    return keys(protectedHeader, token)
  }
  return getKey
}

/** Signing keys cannot be had now (discovery failed, the token file cannot be read): a 503 to retry. */
function keysUnavailable(cause?: unknown): RelayError {
  return new RelayError('ERR_KEYS_UNAVAILABLE', 'signing keys unavailable', {
    retryAfter: FETCH_FAILURE_TTL_MS / 1000,
    cause,
  })
}

/**
 * One trust per configured issuer. A `caFile` is read now (a missing file is a start-up error naming
 * its path); a `tokenFile` is re-read when it changes, as the kubelet refreshes it.
 */
export function kubernetesTrust(config: KubernetesConfig, deps: KeyFetchDeps): KubernetesTrust {
  const dispatchers: Dispatcher[] = []
  const shared = outboundGet(deps)
  const trusts = config.issuers.map((issuer, i): Trust => {
    let get = shared
    if (issuer.caFile !== undefined) {
      let ca: Buffer
      try {
        ca = readFileSync(issuer.caFile)
      } catch {
        throw new Error(`jwt: kubernetes.issuers[${i}].caFile ${issuer.caFile} cannot be read`)
      }
      // Its own pool for its own CA, through the same proxy as every other outbound call.
      const dispatcher = createDispatcher(deps.proxy ?? {}, { connect: { ca } })
      dispatchers.push(dispatcher)
      get = undiciGet(dispatcher)
    }
    const token =
      issuer.tokenFile === undefined ? undefined : createTokenSource({ tokenFile: issuer.tokenFile })
    const headers = (): Record<string, string> => {
      if (token === undefined) return {}
      try {
        return { authorization: `Bearer ${token()}` }
      } catch {
        throw keysUnavailable()
      }
    }
    return { issuer: issuer.issuer, keys: [], remote: issuerKeys(issuer, get, headers) }
  })
  return { trusts, close: () => dispatchers.forEach((d) => void d.close()) }
}

/** The id (`<uid>:<resourceVersion>`) and time (RFC 3339) the watch notifier puts in each event. */
export function notifierEventMeta(payload: unknown): Pick<Verified, 'eventId' | 'eventTime'> {
  if (typeof payload !== 'object' || payload === null) return {}
  const { id, time } = payload as { id?: unknown; time?: unknown }
  const eventTime = typeof time === 'string' ? Date.parse(time) : Number.NaN
  return {
    ...(typeof id === 'string' && id !== '' ? { eventId: id } : {}),
    ...(Number.isFinite(eventTime) ? { eventTime } : {}),
  }
}
