// Domain errors with stable codes; http/problem.ts is the one place that turns them into HTTP answers.

/** Every code a domain module may throw, with the HTTP status it maps to. */
export const ERROR_STATUS = {
  ERR_SOURCE_NOT_FOUND: 404,
  ERR_NOT_FOUND: 404,
  ERR_BODY_INVALID: 400,
  ERR_BAD_REQUEST: 400,
  ERR_SIGNATURE_MISSING: 401,
  ERR_SIGNATURE_INVALID: 401,
  ERR_TIMESTAMP_STALE: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_CLAIM_MISMATCH: 401,
  ERR_TOPIC_NOT_ALLOWED: 401,
  ERR_CERT_URL_NOT_ALLOWED: 401,
  ERR_ADMIN_UNAUTHORIZED: 401,
  /** A method a source does not take (OPTIONS on a source that is not Event Grid's). */
  ERR_METHOD_NOT_ALLOWED: 405,
  /** A read-only console session tried to act. */
  ERR_FORBIDDEN: 403,
  ERR_CONFLICT: 409,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_UNMAPPABLE: 422,
  /** The event's time is later than the clock allows: it would fence its names against every real update. */
  ERR_EVENT_TIME_FUTURE: 422,
  ERR_RATE_LIMITED: 429,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_SHUTTING_DOWN: 503,
  /** Load shedding (event-loop delay, memory): the sender should retry after Retry-After. */
  ERR_OVERLOADED: 503,
  /** The keys to check a signature with cannot be fetched now (JWKS down): the sender should retry. */
  ERR_KEYS_UNAVAILABLE: 503,
  ERR_INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/**
 * An error the relay expects and can explain. `message` is shown to callers for 4xx answers, so it
 * must never contain a payload value, a signing secret or a token: describe, never quote.
 */
export class RelayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Seconds a client should wait before trying again (429, 503). */
  readonly retryAfter: number | undefined

  constructor(code: ErrorCode, message: string, options: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RelayError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.retryAfter = options.retryAfter
  }
}

/** True when `err` is a RelayError with the given code (or any code when none is given). */
export function isRelayError(err: unknown, code?: ErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code)
}

/**
 * A problem that stops start-up (no config, an unreadable token, refused demo secrets): the CLI prints it
 * without a stack and exits 2, as it does a ConfigError (which config/ keeps, being a leaf).
 */
export class StartupError extends Error {
  override readonly name = 'StartupError'
}
