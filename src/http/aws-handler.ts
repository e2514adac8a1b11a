// An AWS SDK request handler over an undici dispatcher, so Secrets Manager calls go through the configured proxy.
import type { Dispatcher } from 'undici'
import { createDispatcher, type ProxyConfig } from './outbound.js'
import { request } from './undici.js'

/** The parts of the SDK's HttpRequest this handler reads (kept here so dist/ needs no @smithy import). */
interface SdkRequest {
  method: string
  protocol: string
  hostname: string
  port?: number
  path: string
  query?: Record<string, string | string[] | null>
  headers: Record<string, string>
  body?: unknown
}

function queryString(query: SdkRequest['query']): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const one of [v].flat()) {
      parts.push(one === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(one)}`)
    }
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

/** The default handler's timeouts, by its option names: the handler here keeps the same. */
export interface HandlerTimeouts {
  /** Milliseconds to open a connection (through the proxy: to it, and the TLS through its tunnel). */
  connectionTimeout: number
  /** Milliseconds to wait for the answer's headers, and between its body's chunks. */
  requestTimeout: number
}

/**
 * A request handler for an AWS SDK v3 client (its `requestHandler` option) that sends through `proxy`
 * with the same timeouts the default handler has: the SDK itself does not read HTTPS_PROXY. It owns its
 * dispatcher: the SDK client's `destroy()` closes it.
 */
export function undiciRequestHandler(proxy: ProxyConfig, timeouts: HandlerTimeouts) {
  const timeoutMs = timeouts.requestTimeout
  const dispatcher = createDispatcher(proxy, { connect: { timeout: timeouts.connectionTimeout } })
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(req: SdkRequest, options: { abortSignal?: AbortSignal } = {}) {
      const port = req.port === undefined ? '' : `:${req.port}`
      const url = `${req.protocol}//${req.hostname}${port}${req.path}${queryString(req.query)}`
      const res = await request(url, {
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body as string | Buffer | undefined,
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(options.abortSignal === undefined ? {} : { signal: options.abortSignal }),
      })
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) headers[k] = [v].flat().join(', ')
      return { response: { statusCode: res.statusCode, reason: '', headers, body: res.body } }
    },
    updateHttpClientConfig(): void {},
    httpHandlerConfigs(): Record<string, never> {
      return {}
    },
    destroy(): void {
      void dispatcher.close()
    },
  }
}
