// Outbound HTTP through the configured proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY): one dispatcher shape for every caller.
import type { Dispatcher, Agent as UndiciAgent } from 'undici'
import type { Config } from '../config/schema.js'
import { Agent, EnvHttpProxyAgent } from './undici.js'

export type ProxyConfig = Config['proxy']

/** True when a proxy is configured. */
export function usesProxy(proxy: ProxyConfig): boolean {
  return proxy.httpsProxy !== undefined || proxy.httpProxy !== undefined
}

/**
 * An undici dispatcher with `options` (timeouts, keep-alive, `connect` TLS such as a CA) that goes through
 * the proxy when one is configured, except for hosts in `noProxy`. The proxy settings come from the
 * config, never from process.env here: an unset one is passed as an empty string so undici does not read
 * the environment.
 */
export function createDispatcher(proxy: ProxyConfig, options: UndiciAgent.Options = {}): Dispatcher {
  if (!usesProxy(proxy)) return new Agent(options)
  // undici's ProxyAgent replaces `connect` with its tunnel: the same settings go as requestTls (the TLS to
  // the origin, through the tunnel: CA, timeout), and the timeout as proxyTls (the connection to the proxy).
  const connect = typeof options.connect === 'object' ? options.connect : undefined
  return new EnvHttpProxyAgent({
    ...options,
    ...(connect === undefined
      ? {}
      : {
          requestTls: connect,
          ...(connect.timeout === undefined ? {} : { proxyTls: { timeout: connect.timeout } }),
        }),
    httpProxy: proxy.httpProxy ?? '',
    httpsProxy: proxy.httpsProxy ?? proxy.httpProxy ?? '',
    noProxy: proxy.noProxy ?? '',
  })
}

/** A response body as UTF-8 text, read up to `maxBytes`: past that the body is destroyed and the text cut. */
export async function readText(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const buf = chunk as Buffer
    size += buf.length
    if (size > maxBytes) {
      body.destroy()
      break
    }
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}
