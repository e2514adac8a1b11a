// SNS outbound calls: the URL rule, a bounded GET with undici, and the signing-certificate cache.
import { type KeyObject, X509Certificate } from 'node:crypto'
import { type Dispatcher, request } from 'undici'

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

/** Outbound timeout for the certificate and SubscribeURL fetches (SNS waits about 15 s for an answer). */
export const SNS_FETCH_TIMEOUT_MS = 5_000
/** An SNS signing certificate is about 2 KB of PEM; anything far larger is not one. */
export const CERT_MAX_BYTES = 16 * 1024
const SUBSCRIBE_MAX_BYTES = 64 * 1024

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
export function fetchGet(fetchFn: typeof fetch): HttpGet {
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
 * The one rule for every URL the verifier may fetch (SigningCertURL and SubscribeURL): http(s), no
 * credentials, and `pattern` matching both the URL as sent and as parsed, so that a URL the parser
 * reads differently (tabs, backslashes) cannot slip past the pattern. Returns the URL to fetch, or null.
 */
export function allowedUrl(pattern: RegExp, raw: string): URL | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '') return null
  if (!pattern.test(raw) || !pattern.test(url.href)) return null
  return url
}

interface CacheEntry {
  key: Promise<KeyObject>
  expiresAt: number
}

/** Options of the certificate cache. */
export interface CertCacheOptions {
  get: HttpGet
  /** Entries kept at most (least recently used goes first). */
  maxEntries?: number
  /** How long a fetched certificate is trusted before it is fetched again. */
  ttlMs?: number
}

/** Signing certificates by URL: one fetch per URL and TTL, concurrent callers share it. */
export interface CertCache {
  /** The public key of the valid certificate at `url`; throws when it cannot be fetched or is not valid now. */
  publicKey(url: URL, now: number): Promise<KeyObject>
  /** Forgets every certificate. */
  clear(): void
}

/** Makes a bounded LRU cache of SNS signing certificates. Failures are not cached: SNS retries. */
export function createCertCache(options: CertCacheOptions): CertCache {
  const maxEntries = options.maxEntries ?? 100
  const ttlMs = options.ttlMs ?? 60 * 60 * 1000
  const entries = new Map<string, CacheEntry>()

  const load = async (url: string, now: number): Promise<{ key: KeyObject; validTo: number }> => {
    const res = await options.get(url, { timeoutMs: SNS_FETCH_TIMEOUT_MS, maxBytes: CERT_MAX_BYTES })
    if (res.status !== 200) throw new Error(`certificate fetch answered ${res.status}`)
    const cert = new X509Certificate(res.body)
    const validFrom = Date.parse(cert.validFrom)
    const validTo = Date.parse(cert.validTo)
    if (!(now >= validFrom && now <= validTo)) throw new Error('certificate is not valid now')
    return { key: cert.publicKey, validTo }
  }

  return {
    publicKey(url, now) {
      const href = url.href
      const hit = entries.get(href)
      if (hit !== undefined && hit.expiresAt > now) {
        entries.delete(href)
        entries.set(href, hit)
        return hit.key
      }
      const entry = { expiresAt: now + ttlMs } as CacheEntry
      entry.key = load(href, now).then(
        ({ key, validTo }) => {
          // Never trust a cached certificate past its own expiry.
          entry.expiresAt = Math.min(entry.expiresAt, validTo)
          return key
        },
        (err: unknown) => {
          if (entries.get(href) === entry) entries.delete(href)
          throw err
        },
      )
      entries.delete(href)
      entries.set(href, entry)
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value
        if (oldest === undefined) break
        entries.delete(oldest)
      }
      return entry.key
    },
    clear() {
      entries.clear()
    },
  }
}

/** GETs a SubscribeURL; true when SNS answered 2xx. */
export async function confirmSubscription(get: HttpGet, url: URL): Promise<boolean> {
  const res = await get(url.href, { timeoutMs: SNS_FETCH_TIMEOUT_MS, maxBytes: SUBSCRIBE_MAX_BYTES })
  return res.status >= 200 && res.status < 300
}
