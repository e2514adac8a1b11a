// The HTTP edge: proxy trust, client timeouts, request ids and load shedding, set from `server` in the config.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerOptions } from 'node:http'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config/schema.js'
import { RelayError } from '../errors.js'

/** An `X-Request-Id` the relay takes as its own: short, and only characters safe in a log line and a header. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/** The log field that carries the request id. */
export const REQUEST_ID_LOG_LABEL = 'requestId'

/** The caller's `X-Request-Id` when it is well formed, else a fresh UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  const id = Array.isArray(given) ? given[0] : given
  return id !== undefined && REQUEST_ID.test(id) ? id : randomUUID()
}

/** The Fastify constructor options the edge sets; `http` is passed by Fastify to http.createServer. */
export function edgeOptions(server: Config['server']): FastifyServerOptions & { http: ServerOptions } {
  return {
    // Fastify takes a hop count too (it trusts the nth hop from the socket), though its types omit it.
    trustProxy: server.trustProxy as FastifyServerOptions['trustProxy'],
    // Whole request (headers and body) must arrive within requestTimeout, else 408 and the socket closes;
    // an idle socket closes after connectionTimeout. Node checks the first at connectionsCheckingInterval.
    requestTimeout: server.requestTimeout,
    connectionTimeout: server.connectionTimeout,
    // Node skips the request timeout while headersTimeout (default 60 s) is longer, so bound both.
    http: {
      requestTimeout: server.requestTimeout,
      headersTimeout: Math.min(60_000, server.requestTimeout),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, server.requestTimeout / 4)),
    },
    requestIdHeader: false,
    genReqId: requestId,
  }
}

export interface EdgeDeps {
  /** Counts each shed request by reason (under-pressure's type: eventLoopDelay, heapUsedBytes...). */
  onShed?: (reason: string) => void
}

/** Sets `x-request-id` on every answer; a callback hook: no promise per request for a header. */
export function echoRequestId(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header('x-request-id', request.id)
  done()
}

/**
 * Echoes the request id and sheds webhook load under pressure: `POST /hooks/*` gets 503 with
 * `Retry-After` (which every provider retries) while health, metrics and admin keep answering.
 */
export async function registerEdge(app: FastifyInstance, config: Config, deps: EdgeDeps = {}): Promise<void> {
  app.addHook('onRequest', echoRequestId)
  const shed = config.server.loadShedding
  const retryAfter = shed.retryAfterSeconds
  await app.register(underPressure, {
    maxEventLoopDelay: shed.maxEventLoopDelayMs,
    maxHeapUsedBytes: shed.maxHeapUsedBytes,
    maxRssBytes: shed.maxRssBytes,
    maxEventLoopUtilization: shed.maxEventLoopUtilization,
    sampleInterval: shed.sampleIntervalMs,
    retryAfter,
    pressureHandler: (request, _reply, type) => {
      if (!request.url.startsWith('/hooks/')) return undefined
      deps.onShed?.(type)
      request.log.debug({ reason: type }, 'overloaded: webhook shed with 503')
      return Promise.reject(
        new RelayError('ERR_OVERLOADED', 'the relay is overloaded: try again shortly', { retryAfter }),
      )
    },
  })
}
