// The parts of undici the relay sends with (Agent, EnvHttpProxyAgent, request), without undici's index.
//
// undici's index loads fetch, WebSocket, EventSource, caches and mocks as well: ~7 MiB of a serving relay's
// idle RSS that no config uses. undici (pinned exactly in package.json) has no exports map, so its modules
// load by path, and the dispatchers get undici's API methods as the index gives them; `request` is the
// index's own wrapper (makeDispatcher around api-request), kept to its
// behaviour: a URL and options, the given dispatcher or undici's global one. test/http/undici.test.ts
// checks these against the index's, so an undici upgrade that moves them fails there.
import { createRequire } from 'node:module'
import type * as Undici from 'undici'

const load = createRequire(import.meta.url)

// What undici's index does first: every dispatcher gets the API methods (ProxyAgent tunnels with
// `connect`, so without this a proxy fails).
Object.assign(
  (load('undici/lib/dispatcher/dispatcher.js') as { prototype: object }).prototype,
  load('undici/lib/api/index.js'),
)

export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent
export const EnvHttpProxyAgent = load(
  'undici/lib/dispatcher/env-http-proxy-agent.js',
) as typeof Undici.EnvHttpProxyAgent

const apiRequest = load('undici/lib/api/api-request.js') as (
  this: Undici.Dispatcher,
  opts: Undici.Dispatcher.RequestOptions,
) => Promise<Undici.Dispatcher.ResponseData>
const { getGlobalDispatcher } = load('undici/lib/global.js') as {
  getGlobalDispatcher: typeof Undici.getGlobalDispatcher
}

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> &
  Partial<Pick<Undici.Dispatcher.RequestOptions, 'method'>> & { dispatcher?: Undici.Dispatcher }

/** undici's `request(url, options)`: one request over `options.dispatcher` (else the global one). */
export function request(
  url: string | URL,
  options: RequestOptions = {},
): Promise<Undici.Dispatcher.ResponseData> {
  const target = new URL(url)
  const { dispatcher = getGlobalDispatcher(), ...rest } = options
  return apiRequest.call(dispatcher, {
    ...rest,
    origin: target.origin,
    path: target.search ? `${target.pathname}${target.search}` : target.pathname,
    method: rest.method ?? (rest.body ? 'PUT' : 'GET'),
  } as Undici.Dispatcher.RequestOptions)
}
