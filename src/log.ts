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
