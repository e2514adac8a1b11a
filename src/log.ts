// The pino logger, with redaction as a second line of defence: code never logs values on purpose.
import { type DestinationStream, type Logger, pino } from 'pino'

/** Log keys that could ever carry a credential, wherever they appear. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["webhook-signature"]',
  'req.headers["svix-signature"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'token',
  'secret',
  'secrets',
  'value',
  'body',
  'rawBody',
  'password',
  'encryptionKey',
  '*.token',
  '*.secret',
  '*.secrets',
  '*.value',
  '*.body',
  '*.rawBody',
  '*.password',
  '*.encryptionKey',
  '*.privateKey',
  '*.keys',
]

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vault-relay' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  )
}

/**
 * An error as log fields: its type, code, message and its cause's message. Only for the relay's own
 * errors (store, resolver, delivery), whose messages never quote a value; never a stack (frames can
 * hold local data).
 */
export function errorFields(err: unknown): { type: string; code?: string; message: string; cause?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: 'non-error' }
  const code = (err as { code?: unknown }).code
  return {
    type: err.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: err.message,
    ...(err.cause instanceof Error ? { cause: err.cause.message } : {}),
  }
}
