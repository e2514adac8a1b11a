// problem+json (RFC 9457) answers: the one mapping from errors to HTTP statuses.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { type ErrorCode, isRelayError } from '../errors.js'

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
}

/** Builds a problem document; `detail` must be safe to show (no payload value, no secret). */
export function problem(status: number, code: ErrorCode | string, detail: string): Problem {
  return {
    type: `urn:vault-relay:problem:${code.replace(/^ERR_/, '').toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  }
}

export function sendProblem(reply: FastifyReply, p: Problem, retryAfter?: number): FastifyReply {
  if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))))
  // The rest of a body too large is not wanted: close rather than read (and discard) it to its end.
  if (p.status === 413) reply.header('connection', 'close')
  return reply.code(p.status).type('application/problem+json').send(p)
}

/** Fastify's own error codes that are the client's fault, with the status and words to answer. */
const FASTIFY_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'ERR_BODY_TOO_LARGE', 'body is over the size limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'ERR_BODY_INVALID', 'empty body'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'ERR_BODY_INVALID', 'content length does not match the body'],
  FST_ERR_VALIDATION: [400, 'ERR_BAD_REQUEST', 'request does not match the schema'],
}

/**
 * Installs the error and not-found handlers. 4xx details come from RelayError messages, which by
 * rule never quote input; 5xx details are always generic, and the cause goes to the log only.
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isRelayError(err)) {
      if (err.status >= 500)
        request.log.error({ code: err.code, cause: describeCause(err.cause) }, err.message)
      return sendProblem(reply, problem(err.status, err.code, err.message), err.retryAfter)
    }
    const known = err.code === undefined ? undefined : FASTIFY_ERRORS[err.code]
    if (known) return sendProblem(reply, problem(known[0], known[1], err.validation ? err.message : known[2]))
    if (err.statusCode === 429) {
      // @fastify/rate-limit has set the real Retry-After (seconds to the window's end): keep it.
      const limiterSet = reply.getHeader('retry-after') !== undefined
      return sendProblem(
        reply,
        problem(429, 'ERR_RATE_LIMITED', 'rate limit reached for this source'),
        limiterSet ? undefined : 1,
      )
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendProblem(reply, problem(err.statusCode, 'ERR_BAD_REQUEST', 'bad request'))
    }
    request.log.error({ code: err.code, err: describeCause(err) }, 'unhandled error')
    return sendProblem(reply, problem(500, 'ERR_INTERNAL', 'internal error'))
  })
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, 'ERR_NOT_FOUND', `no route for ${request.method} on this path`)),
  )
}

/** Name, code and message of a cause, without stack frames holding local data. */
function describeCause(cause: unknown): Record<string, unknown> | undefined {
  if (!(cause instanceof Error)) return undefined
  return { name: cause.name, message: cause.message, code: (cause as { code?: unknown }).code }
}
