// The bounded outbound GET (no redirects, a timeout, a size cap) that verifiers and the notifier fetch with.
import type { Dispatcher } from 'undici'
import { request } from './undici.js'

/** What a bounded GET gave back. */
export interface HttpAnswer {
  status: number
  body: Buffer
}

/**
 * Fetches `url` with GET, following no redirect, giving up after `timeoutMs` and refusing bodies over
 * `maxBytes`. Throws on network errors, timeouts and oversized bodies.
 */
export type HttpGet = (url: string, limits: HttpGetLimits) => Promise<HttpAnswer>

/** The bounds of one GET, and any request headers (e.g. a bearer token for a Kubernetes API server). */
export interface HttpGetLimits {
  timeoutMs: number
  maxBytes: number
  headers?: Record<string, string>
}

/**
 * How long a failed key or certificate fetch (JWKS, Kubernetes discovery, SNS signing certificate) is
 * remembered: requests needing it in that time are refused at once instead of fetching again, so a
 * failing or hostile key server sees at most one fetch per URL in this time, whatever the request rate.
 */
export const FETCH_FAILURE_TTL_MS = 30_000

/**
 * `load` behind a memory of its failure: callers while it runs share that one call, and a failure is
 * given to every caller for `FETCH_FAILURE_TTL_MS` (read on Date.now) without calling `load` again. A
 * success is not kept: the caller keeps what it needs.
 */
export function rememberFailure<T>(load: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined
  let failure: { at: number; error: unknown } | undefined
  return () => {
    if (failure !== undefined && Date.now() - failure.at < FETCH_FAILURE_TTL_MS)
      return Promise.reject(failure.error)
    running ??= load().then(
      (value) => {
        running = undefined
        failure = undefined
        return value
      },
      (error: unknown) => {
        running = undefined
        failure = { at: Date.now(), error }
        throw error
      },
    )
    return running
  }
}

/** A GET over undici: no redirects (undici's `request` never follows them), a timeout and a size cap. */
export function undiciGet(dispatcher?: Dispatcher): HttpGet {
  return async (url, { timeoutMs, maxBytes, headers }) => {
    const res = await request(url, {
      method: 'GET',
      ...(headers === undefined ? {} : { headers }),
      ...(dispatcher === undefined ? {} : { dispatcher }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > maxBytes) {
        res.body.destroy()
        throw new Error(`response over ${maxBytes} bytes`)
      }
      chunks.push(chunk as Buffer)
    }
    return { status: res.statusCode, body: Buffer.concat(chunks) }
  }
}

/**
 * The same GET over a WHATWG `fetch` (the registry's injected fetch): `redirect: 'manual'`, so a 3xx
 * comes back as a failure instead of being followed, with the same timeout and size cap.
 */
export function fetchGet(fetchFn: (url: string, init: RequestInit) => Promise<Response>): HttpGet {
  return async (url, { timeoutMs, maxBytes, headers }) => {
    const res = await fetchFn(url, {
      method: 'GET',
      ...(headers === undefined ? {} : { headers }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
    const chunks: Buffer[] = []
    let size = 0
    if (res.body !== null) {
      const reader = res.body.getReader()
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        size += r.value.byteLength
        if (size > maxBytes) {
          await reader.cancel()
          throw new Error(`response over ${maxBytes} bytes`)
        }
        chunks.push(Buffer.from(r.value))
      }
    }
    return { status: res.status, body: Buffer.concat(chunks) }
  }
}

/**
 * The GET a verifier uses for keys and certificates: over an injected WHATWG `fetch` when given (tests),
 * else over `dispatcher` (the proxy-aware one), else over undici's global dispatcher.
 */
export function outboundGet(deps: {
  fetch?: ((url: string, init: RequestInit) => Promise<Response>) | undefined
  dispatcher?: Dispatcher | undefined
}): HttpGet {
  return deps.fetch === undefined ? undiciGet(deps.dispatcher) : fetchGet(deps.fetch)
}
