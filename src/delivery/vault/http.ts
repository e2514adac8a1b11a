// One Vault or OpenBao HTTP exchange: address, namespace, CA, proxy and timeouts; JSON in and out, bounded.
import { readFileSync } from 'node:fs'
import type { Dispatcher } from 'undici'
import type { VaultConfig } from '../../config/schema.js'
import { StartupError } from '../../errors.js'
import { createDispatcher, type ProxyConfig, readText } from '../../http/outbound.js'
import { request } from '../../http/undici.js'
import { parseRetryAfter } from '../backoff.js'

/** Largest answer read: KV secrets are small, a LIST of a big prefix is the largest thing Vault sends. */
const MAX_BODY = 4 * 1024 * 1024

/** What Vault answered: its status, its JSON (undefined when the body is not JSON), and Retry-After. */
export interface VaultAnswer {
  status: number
  body: unknown
  retryAfterMs?: number
}

/** A request that got no answer (refused, reset, timed out); `reason` names the failure, never a token. */
export class VaultUnreachable extends Error {
  override readonly name = 'VaultUnreachable'
}

/** One call: `path` below the address (`/v1/...`), the token if any, a JSON body for POST. */
export interface VaultCall {
  method: 'GET' | 'POST'
  path: string
  token?: string
  body?: unknown
}

/** Sends calls to one Vault; `close()` releases its sockets. */
export interface VaultHttp {
  send(call: VaultCall): Promise<VaultAnswer>
  /** Vault's base address (no trailing slash) and namespace, and the dispatcher (CA, proxy), for the event WebSocket. */
  readonly address: string
  readonly namespace: string | undefined
  readonly dispatcher: Dispatcher
  close(): Promise<void>
}

/** Makes the transport; reads `caFile` now (a StartupError when it cannot). */
export function createVaultHttp(config: VaultConfig, proxy: ProxyConfig = {}): VaultHttp {
  let ca: string | undefined
  if (config.caFile !== undefined) {
    try {
      ca = readFileSync(config.caFile, 'utf8')
    } catch (err) {
      throw new StartupError(`vault.caFile ${config.caFile} cannot be read: ${(err as Error).message}`)
    }
  }
  const dispatcher: Dispatcher = createDispatcher(proxy, {
    connect: { timeout: config.connectTimeoutMs, ...(ca === undefined ? {} : { ca }) },
    headersTimeout: config.requestTimeoutMs,
    bodyTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 30_000,
  })
  const base = config.address.replace(/\/+$/, '')

  return {
    address: base,
    namespace: config.namespace,
    dispatcher,
    async send(call) {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (call.token !== undefined) headers['x-vault-token'] = call.token
      if (config.namespace !== undefined) headers['x-vault-namespace'] = config.namespace
      if (call.body !== undefined) headers['content-type'] = 'application/json'
      const signal = AbortSignal.timeout(config.requestTimeoutMs)
      let res: Dispatcher.ResponseData
      try {
        res = await request(`${base}${call.path}`, {
          method: call.method,
          dispatcher,
          signal,
          headers,
          ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        })
      } catch (err) {
        throw new VaultUnreachable(transportReason(err, signal.aborted))
      }
      let text: string
      try {
        text = await readText(res.body, MAX_BODY)
      } catch (err) {
        throw new VaultUnreachable(transportReason(err, signal.aborted))
      }
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now())
      return {
        status: res.statusCode,
        body: parseJson(text),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }
    },
    async close() {
      await dispatcher.close()
    },
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Why a request got no answer: the error's code (ECONNREFUSED, UND_ERR_…), or the timeout. */
function transportReason(err: unknown, timedOut: boolean): string {
  if (timedOut) return 'Vault did not answer in time'
  const code = (err as { code?: unknown })?.code
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code
  const name = typeof code === 'string' ? code : typeof cause === 'string' ? cause : 'network error'
  return `Vault unreachable (${name})`
}

/** The `errors` Vault put in an answer, joined and bounded (Vault names paths and policies, never values). */
export function vaultErrors(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors
  if (!Array.isArray(errors)) return ''
  return errors
    .filter((e): e is string => typeof e === 'string')
    .join('; ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200)
}
