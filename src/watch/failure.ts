// Why a watch failed, as value-free log fields and a hint for the common causes (TLS, reachability, RBAC).

/** What is logged when a list or watch fails: never a response body, header or token. */
export interface WatchFailure {
  /** The error's class, e.g. FetchError, ApiException, Error. */
  type: string
  /** HTTP status from the API server. */
  status?: number
  /** A system or TLS code, e.g. ECONNREFUSED, SELF_SIGNED_CERT_IN_CHAIN. */
  code?: string
  /** The Kubernetes Status reason, e.g. Unauthorized, Forbidden. */
  reason?: string
  /** The error's message, unless it may quote a response (ApiException carries body and headers). */
  message?: string
  /** What usually causes this, and where to look. */
  hint?: string
}

const TLS_CODES =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

function hintFor(f: Omit<WatchFailure, 'hint'>): string | undefined {
  const { status, code = '', message = '' } = f
  if (/HTTP protocol is not allowed/i.test(message))
    return 'the API server URL is plain http://: @kubernetes/client-node refuses it unless the cluster sets insecure-skip-tls-verify: true; use its https:// URL (kubectl cluster-info)'
  if (TLS_CODES.test(code) || /certificate/i.test(message))
    return "the API server's certificate is not trusted: check the kubeconfig's certificate-authority(-data), or ca.crt in inCluster.serviceAccountDir"
  if (code === 'EPROTO' || /wrong version number|ssl3_get_record|packet length too long/i.test(message))
    return 'the TLS handshake failed: is the API server plain http, or is a proxy in the way?'
  if (NETWORK_CODES.has(code))
    return "the API server is not reachable: check the kubeconfig's server, or inCluster.host and port (KUBERNETES_SERVICE_HOST and _PORT), and network policies"
  if (status === 401)
    return 'the API server refused the credentials: an expired or wrong token (the kubeconfig user, or the service account token)'
  if (status === 403)
    return 'the service account may not list and watch Secrets in this namespace: check its Role and RoleBinding (deploy/k8s/watch)'
  if (status === 404) return "no such API path: is the server URL the API server's?"
  if (status === 429 || (status !== undefined && status >= 500))
    return 'the API server is overloaded or failing: the watch keeps retrying with backoff'
  return undefined
}

/** Userinfo in a URL (`https://user:pass@host`) never reaches a log. */
const scrub = (text: string) => text.replace(/\/\/[^/\s@]*@/g, '//[redacted]@').slice(0, 300)

/**
 * Describes a list or watch failure from @kubernetes/client-node: its status, code, the Status reason
 * and, except for ApiException (whose message embeds the response body and headers), its message.
 */
export function describeWatchFailure(err: unknown): WatchFailure {
  if (!(err instanceof Error)) return { type: typeof err }
  const e = err as Error & { statusCode?: unknown; code?: unknown; body?: unknown }
  const apiException = typeof e.code === 'number' && 'body' in e
  let reason: string | undefined
  if (apiException) {
    const body = typeof e.body === 'string' ? safeParse(e.body) : e.body
    const r = (body as { reason?: unknown } | undefined)?.reason
    if (typeof r === 'string' && /^[A-Za-z]{1,64}$/.test(r)) reason = r
  }
  const status =
    typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined
  const failure: Omit<WatchFailure, 'hint'> = {
    // ApiException does not set its name.
    type: apiException ? 'ApiException' : e.name,
    ...(status === undefined ? {} : { status }),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(reason === undefined ? {} : { reason }),
    ...(apiException ? {} : { message: scrub(e.message) }),
  }
  const hint = hintFor(failure)
  return hint === undefined ? failure : { ...failure, hint }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
