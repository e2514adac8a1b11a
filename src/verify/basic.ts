// HTTP Basic authentication (`Authorization: Basic base64(user:password)`), compared in constant time.
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { decodeBase64, parseJsonBody, secretIndexOf } from './compare.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a Basic-auth source. */
export type BasicConfig = Extract<VerifyConfig, { type: 'basic' }>

const BASIC = /^basic[ \t]+(\S+)[ \t]*$/i

/**
 * Verifies that `Authorization: Basic …` (scheme in any case) carries one of the configured
 * `user:password` pairs. The decoded pair is compared as a whole by digest, in constant time. The payload
 * is the JSON body; no event id or time.
 */
export function createBasicVerifier(config: BasicConfig): Verifier {
  const credentials = config.credentials.map((pair) => Buffer.from(pair, 'utf8'))

  return {
    async verify({ headers, body }: VerifyInput): Promise<Verified> {
      const value = header(headers, 'authorization')
      if (value === undefined || value.trim() === '') {
        throw new RelayError('ERR_SIGNATURE_MISSING', 'missing authorization header')
      }
      const encoded = BASIC.exec(value)?.[1]
      const pair = encoded === undefined ? undefined : decodeBase64(encoded)
      if (pair === undefined) throw new RelayError('ERR_SIGNATURE_INVALID', 'malformed authorization header')
      const matched = secretIndexOf(pair, credentials)
      if (matched < 0) throw new RelayError('ERR_SIGNATURE_INVALID', 'no credentials matched')
      return { payload: parseJsonBody(body), keyId: `credentials[${matched}]` }
    },
  }
}
