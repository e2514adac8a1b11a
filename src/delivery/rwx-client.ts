// The RWX vault API client: one POST per batch, every transport failure and status translated here.
import type { Dispatcher } from 'undici'
import { createDispatcher, type ProxyConfig, readText } from '../http/outbound.js'
import { request } from '../http/undici.js'
import { parseRetryAfter } from './backoff.js'

/** One secret in a set-secrets request. */
export interface RwxSecret {
  name: string
  secret: string
  description?: string | undefined
}

/** What a set-secrets call came to, in the worker's terms. Reasons never quote a value or the token. */
export type SetSecretsResult =
  /**
   * 200: `set` holds the names RWX confirms; a name missing from it was not delivered. `versions` holds
   * only finite numbers, in a Map: a secret may be named `constructor` or `__proto__`.
   */
  | { kind: 'ok'; set: Set<string>; versions: Map<string, number> }
  /**
   * Worth trying again later: network errors, timeouts, 408, 429, 5xx, 3xx.
   * `uncertain`: the request went out and no answer came back (a timeout, a reset, cancelled, a 504), so
   * RWX may still apply it.
   */
  | { kind: 'retry'; reason: string; status?: number; retryAfterMs?: number; uncertain?: boolean }
  /**
   * 200 without a readable `set_secrets` (a proxy, a stub, a changed API): the write may or may not have
   * happened. The worker reads the secrets back before sending them again.
   */
  | { kind: 'unconfirmed'; status: 200; reason: string }
  /** 401/403: the token is wrong or missing (status 0: no token could be read). */
  | { kind: 'auth'; status: number; reason: string }
  /**
   * 400: RWX refused some secrets of the request (its batches are not atomic) and stored the others.
   * `refused`: the names of the request RWX's message names (empty when it names none).
   */
  | { kind: 'rejected'; status: 400; reason: string; refused: Set<string> }
  /**
   * 404: RWX knows no such vault (an operator's mistake to fix, e.g. a vault not created yet). Not a
   * reason to destroy the value: the worker keeps the secret queued and says so loudly.
   */
  | { kind: 'missing-vault'; status: 404; reason: string }
  /** Any other 4xx: retrying the same request will not help. */
  | { kind: 'dead'; status: number; reason: string }

/** What reading a secret's metadata back came to (`GET /mint/api/vaults/secrets/{name}`). */
export type ReadSecretResult =
  /** 200: RWX holds the name, at this version (null when the answer has none). */
  | { kind: 'found'; version: number | null }
  /** 404: RWX does not hold the name (or the vault). */
  | { kind: 'missing' }
  /** Anything else: nothing learned. The reason never quotes the token. */
  | { kind: 'failed'; reason: string; status?: number }

export interface RwxClientOptions {
  /** Base URL, e.g. https://cloud.rwx.com (a trailing slash is ignored). */
  url: string
  /** Read before every request, so a rotated token file is picked up. */
  token: () => string | Promise<string>
  userAgent: string
  /** Bounds opening a connection. */
  connectTimeoutMs: number
  /** Bounds the whole exchange, connecting included. */
  requestTimeoutMs: number
  /** The outbound proxy (HTTPS_PROXY, NO_PROXY) the client's own keep-alive dispatcher goes through. */
  proxy?: ProxyConfig
  /** Replaces the client's own keep-alive dispatcher (tests); it is then not closed by `close()`. */
  dispatcher?: Dispatcher
}

export interface RwxClient {
  /** Creates or updates `secrets` in `vault`. Never throws; aborting `signal` gives a retry result. */
  setSecrets(
    vault: string,
    secrets: RwxSecret[],
    options?: { signal?: AbortSignal },
  ): Promise<SetSecretsResult>
  /** Reads a secret's metadata (never its value: RWX has no such endpoint). Never throws. */
  getSecret(vault: string, name: string, options?: { signal?: AbortSignal }): Promise<ReadSecretResult>
  /** Closes idle connections of the client's own Agent. */
  close(): Promise<void>
}

const PATH = '/mint/api/vaults/secrets'
const MAX_BODY = 1024 * 1024

/** Creates a client with a keep-alive dispatcher (through the proxy, if any) that follows no redirect. */
export function createRwxClient(options: RwxClientOptions): RwxClient {
  const endpoint = options.url.replace(/\/+$/, '') + PATH
  const own = options.dispatcher === undefined
  const dispatcher =
    options.dispatcher ??
    createDispatcher(options.proxy ?? {}, {
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: 30_000,
    })

  async function setSecrets(
    vault: string,
    secrets: RwxSecret[],
    callOptions: { signal?: AbortSignal } = {},
  ): Promise<SetSecretsResult> {
    const token = await readToken()
    if (typeof token !== 'string') return { kind: 'auth', status: 0, ...token }
    const sent = [token, ...secrets.map((s) => s.secret)]
    const names = secrets.map((s) => s.name)
    const body = JSON.stringify({
      vault_name: vault,
      secrets: secrets.map((s) =>
        s.description === undefined
          ? { name: s.name, secret: s.secret }
          : { name: s.name, secret: s.secret, description: s.description },
      ),
    })
    const { deadline, signal } = bounded(callOptions.signal)
    try {
      const res = await request(endpoint, {
        method: 'POST',
        dispatcher,
        signal,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'user-agent': options.userAgent,
        },
        body,
      })
      const status = res.statusCode
      if (status >= 300 && status < 400) {
        await res.body.dump()
        return { kind: 'retry', status, reason: `RWX answered ${status} (redirects are not followed)` }
      }
      const text = await readText(res.body, MAX_BODY)
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now())
      return translate(status, text, retryAfterMs, sent, names)
    } catch (err) {
      if (callOptions.signal?.aborted) {
        // the worker's own reasons are fixed strings (never a value); shutting down gives none
        const why = callOptions.signal.reason
        const reason = `request to RWX cancelled (${typeof why === 'string' ? why : 'shutting down'})`
        return { kind: 'retry', reason, uncertain: true }
      }
      const reason = transportReason(err, deadline.aborted)
      return { kind: 'retry', reason, uncertain: deadline.aborted || !NEVER_SENT.has(errorCode(err) ?? '') }
    }
  }

  /** The current token, or why there is none (a read error may name a path, so it is never shown). */
  async function readToken(): Promise<string | { reason: string }> {
    try {
      const token = await options.token()
      return token ? token : { reason: 'RWX token is empty' }
    } catch {
      return { reason: 'RWX token could not be read' }
    }
  }

  /**
   * The signal for one exchange: the request timeout, and the caller's signal if any. undici's own
   * timeouts tick coarsely (about a second); this bounds the whole exchange precisely.
   */
  function bounded(caller: AbortSignal | undefined): { deadline: AbortSignal; signal: AbortSignal } {
    const deadline = AbortSignal.timeout(options.requestTimeoutMs)
    return { deadline, signal: caller ? AbortSignal.any([deadline, caller]) : deadline }
  }

  async function getSecret(
    vault: string,
    name: string,
    callOptions: { signal?: AbortSignal } = {},
  ): Promise<ReadSecretResult> {
    const token = await readToken()
    if (typeof token !== 'string') return { kind: 'failed', ...token }
    const url = `${endpoint}/${encodeURIComponent(name)}?vault_name=${encodeURIComponent(vault)}`
    const { deadline, signal } = bounded(callOptions.signal)
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher,
        signal,
        headers: { authorization: `Bearer ${token}`, 'user-agent': options.userAgent },
      })
      const text = await readText(res.body, MAX_BODY)
      if (res.statusCode === 404) return { kind: 'missing' }
      if (res.statusCode !== 200) {
        const reason = reasonOf(res.statusCode, errorMessage(text), [token], `RWX answered ${res.statusCode}`)
        return { kind: 'failed', status: res.statusCode, reason }
      }
      const doc = parseJson(text)
      const version = isObject(doc) ? doc['version'] : undefined
      return {
        kind: 'found',
        version: typeof version === 'number' && Number.isFinite(version) ? version : null,
      }
    } catch (err) {
      return { kind: 'failed', reason: transportReason(err, deadline.aborted) }
    }
  }

  return {
    setSecrets,
    getSecret,
    async close() {
      if (own) await dispatcher.close()
    },
  }
}

function translate(
  status: number,
  text: string,
  retryAfterMs: number | undefined,
  sent: string[],
  names: string[],
): SetSecretsResult {
  if (status === 200)
    return (
      parseSuccess(text) ?? {
        kind: 'unconfirmed',
        status,
        reason: 'RWX answered 200 without set_secrets (a proxy or a changed API?)',
      }
    )
  const message = errorMessage(text)
  const kept = message === undefined ? undefined : safeMessage(message, sent)
  const reason = message === undefined ? `Unable to call RWX API - ${status}` : (kept ?? withheld(status))
  if (status === 401 || status === 403) return { kind: 'auth', status, reason }
  if (status === 400) return { kind: 'rejected', status, reason, refused: namedIn(message ?? '', names) }
  if (status === 408 || status === 429 || status >= 500) {
    const r: SetSecretsResult = { kind: 'retry', status, reason }
    if (retryAfterMs !== undefined) r.retryAfterMs = retryAfterMs
    // A gateway that gave up waiting: RWX behind it may still finish the write.
    if (status === 504) r.uncertain = true
    return r
  }
  if (status === 404) {
    const detail = kept ? ` (${kept})` : ''
    return { kind: 'missing-vault', status, reason: `RWX answered 404: unknown vault?${detail}` }
  }
  if (status >= 400)
    return { kind: 'dead', status, reason: kept ? `RWX answered ${status}: ${kept}` : reason }
  // 1xx leftovers and 2xx other than 200: RWX's own clients treat them as failures.
  return { kind: 'retry', status, reason: `RWX answered ${status}` }
}

/** Parses a JSON body, or undefined when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function parseSuccess(text: string): SetSecretsResult | undefined {
  const doc = parseJson(text)
  if (!isObject(doc) || !Array.isArray(doc['set_secrets'])) return undefined
  const set = new Set(doc['set_secrets'].filter((n): n is string => typeof n === 'string'))
  const versions = new Map<string, number>()
  const raw = doc['versions']
  if (isObject(raw)) {
    // Object.entries lists only own keys: JSON.parse makes `"__proto__"` one, never the prototype.
    for (const [name, v] of Object.entries(raw))
      if (typeof v === 'number' && Number.isFinite(v)) versions.set(name, v)
  }
  return { kind: 'ok', set, versions }
}

/** RWX's error text, from the body shapes its own clients parse; undefined when there is none. */
function errorMessage(text: string): string | undefined {
  const doc = parseJson(text)
  if (!isObject(doc)) return undefined
  if (typeof doc['error'] === 'string' && doc['error']) return doc['error']
  const errors = doc['errors']
  if (Array.isArray(errors)) {
    const parts = errors.filter((e): e is string => typeof e === 'string' && e !== '')
    if (parts.length > 0) return parts.join('; ')
  }
  const messages = doc['error_messages']
  if (Array.isArray(messages)) {
    const parts = messages
      .map((m) => (isObject(m) && typeof m['message'] === 'string' ? m['message'] : ''))
      .filter((m) => m !== '')
    if (parts.length > 0) return parts.join('; ')
  }
  return undefined
}

/**
 * The names of the request that RWX's message names, as whole words (any case): RWX's 400 gives
 * "details on the secrets that failed". Read from the message as RWX sent it (names are not secret).
 * A name that only happens to be a word of the message (`secret`) is counted as refused: it is then
 * sent alone, which costs a request but never loses or duplicates it.
 */
export function namedIn(message: string, names: readonly string[]): Set<string> {
  const words = new Set(message.toLowerCase().split(/[^a-z0-9_-]+/))
  return new Set(names.filter((n) => words.has(n.toLowerCase())))
}

/** The longest RWX message kept; a longer one is replaced (it is a body, not a reason). */
export const MAX_RWX_MESSAGE = 200
/** A message sharing a run of this many characters with a value sent (any case) is never kept. */
export const MIN_SHARED_RUN = 4

/**
 * The reason to keep for an RWX error: RWX's own message when `safeMessage` allows it, `none` when RWX
 * gave no message, else a generic one with the status. Never RWX's body.
 */
function reasonOf(
  status: number,
  message: string | undefined,
  sent: readonly string[],
  none: string,
): string {
  if (message === undefined) return none
  return safeMessage(message, sent) ?? withheld(status)
}

/** The reason kept when RWX's message may quote a value. */
const withheld = (status: number) => `RWX answered ${status} (its message is withheld: it may quote a value)`

/**
 * RWX's message with its whitespace collapsed, or undefined when it must not be stored, shown or logged:
 * longer than MAX_RWX_MESSAGE, or sharing a run of MIN_SHARED_RUN characters, case-insensitively, with any of
 * `sent` (the values of the request and the token). That catches a value echoed whole, in part (a prefix,
 * a suffix) or in another case; a value shorter than the run is matched whole. Scrubbing exact copies
 * out of a body would miss all but the first.
 */
export function safeMessage(message: string, sent: readonly string[]): string | undefined {
  const text = message.replace(/\s+/g, ' ').trim()
  if (text === '' || text.length > MAX_RWX_MESSAGE) return undefined
  const lower = text.toLowerCase()
  const runs = new Set<string>()
  for (let i = 0; i + MIN_SHARED_RUN <= lower.length; i++) runs.add(lower.slice(i, i + MIN_SHARED_RUN))
  for (const secret of sent) {
    const value = secret.toLowerCase()
    if (value === '') continue
    if (value.length < MIN_SHARED_RUN) {
      if (lower.includes(value)) return undefined
      continue
    }
    for (let i = 0; i + MIN_SHARED_RUN <= value.length; i++)
      if (runs.has(value.slice(i, i + MIN_SHARED_RUN))) return undefined
  }
  return text
}

/** Transport failures that happen before a request can reach RWX: it cannot land later. */
const NEVER_SENT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])

/** A short, value-free description of a transport failure. */
function transportReason(err: unknown, timedOut: boolean): string {
  if (timedOut) return 'RWX request timed out'
  const code = errorCode(err)
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connecting to RWX timed out'
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'RWX request timed out'
    case 'ECONNREFUSED':
      return 'RWX refused the connection (ECONNREFUSED)'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection to RWX was reset'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `RWX host could not be resolved (${code})`
    default:
      return code ? `network error talking to RWX (${code})` : 'network error talking to RWX'
  }
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err
  // Node wraps socket errors; the useful code is often one or two causes down.
  for (let i = 0; i < 3 && isObject(e); i++) {
    if (typeof e['code'] === 'string') return e['code']
    e = e['cause']
  }
  return undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
