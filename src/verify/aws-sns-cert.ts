// SNS outbound calls: the URL rule, the signing-certificate cache, and the SubscribeURL confirmation.
import { type KeyObject, X509Certificate } from 'node:crypto'
import { FETCH_FAILURE_TTL_MS, type HttpGet } from '../http/get.js'

/** Outbound timeout for the certificate and SubscribeURL fetches (SNS waits about 15 s for an answer). */
export const SNS_FETCH_TIMEOUT_MS = 5_000
/** An SNS signing certificate is about 2 KB of PEM; anything far larger is not one. */
export const CERT_MAX_BYTES = 16 * 1024
const SUBSCRIBE_MAX_BYTES = 64 * 1024
/** Signing certificates kept at most (SNS uses one a region; the least recently used goes first). */
const CERT_CACHE_MAX_ENTRIES = 100
/** How long a fetched certificate is trusted before it is fetched again (never past its own expiry). */
const CERT_CACHE_TTL_MS = 60 * 60 * 1000

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
  /** How long a failed fetch is remembered before the URL is fetched again. */
  failureTtlMs?: number
}

/** Signing certificates by URL: one fetch per URL and TTL, concurrent callers share it. */
export interface CertCache {
  /** The public key of the valid certificate at `url`; throws when it cannot be fetched or is not valid now. */
  publicKey(url: URL, now: number): Promise<KeyObject>
  /** Forgets every certificate. */
  clear(): void
}

/**
 * Makes a bounded LRU cache of SNS signing certificates. A failed fetch (network, status, size, not a
 * valid certificate) is cached too, for `failureTtlMs` (`FETCH_FAILURE_TTL_MS`): messages naming that URL
 * are refused meanwhile without a fetch, and SNS's own retries come after it. Fetches in flight and
 * failures are kept apart from the certificates (each as bounded), so a flood of messages naming
 * made-up certificate paths never evicts a good certificate.
 */
export function createCertCache(options: CertCacheOptions): CertCache {
  const maxEntries = options.maxEntries ?? CERT_CACHE_MAX_ENTRIES
  const ttlMs = options.ttlMs ?? CERT_CACHE_TTL_MS
  const failureTtlMs = options.failureTtlMs ?? FETCH_FAILURE_TTL_MS
  /** Certificates fetched and valid. */
  const entries = new Map<string, CacheEntry>()
  /** Fetches in flight, then failures until they expire. */
  const unproven = new Map<string, CacheEntry>()
  const remember = (map: Map<string, CacheEntry>, href: string, entry: CacheEntry) => {
    map.delete(href)
    map.set(href, entry)
    while (map.size > maxEntries) {
      const oldest = map.keys().next().value
      if (oldest === undefined) break
      map.delete(oldest)
    }
  }

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
      // a fetch in flight (shared by concurrent messages), or a failure not yet expired
      const pending = unproven.get(href)
      if (pending !== undefined && pending.expiresAt > now) return pending.key
      const hit = entries.get(href)
      if (hit !== undefined && hit.expiresAt > now) {
        remember(entries, href, hit)
        return hit.key
      }
      const entry = { expiresAt: now + ttlMs } as CacheEntry
      entry.key = load(href, now).then(
        ({ key, validTo }) => {
          // Never trust a cached certificate past its own expiry.
          entry.expiresAt = Math.min(entry.expiresAt, validTo)
          if (unproven.get(href) === entry) unproven.delete(href)
          remember(entries, href, entry)
          return key
        },
        (err: unknown) => {
          entry.expiresAt = now + failureTtlMs
          if (entries.get(href) === hit) entries.delete(href)
          throw err
        },
      )
      remember(unproven, href, entry)
      return entry.key
    },
    clear() {
      entries.clear()
      unproven.clear()
    },
  }
}

/** GETs a SubscribeURL; true when SNS answered 2xx. */
export async function confirmSubscription(get: HttpGet, url: URL): Promise<boolean> {
  const res = await get(url.href, { timeoutMs: SNS_FETCH_TIMEOUT_MS, maxBytes: SUBSCRIBE_MAX_BYTES })
  return res.status >= 200 && res.status < 300
}
