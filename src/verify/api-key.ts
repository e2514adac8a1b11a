// Static API keys in a header (EventBridge API destinations and similar), compared in constant time.
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { parseJsonBody, secretIndexOf } from './compare.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of an API-key source. */
export type ApiKeyConfig = Extract<VerifyConfig, { type: 'api-key' }>

/**
 * Verifies that `<header>` equals one of the configured keys. Digests are compared, so neither a key's
 * content nor its length leaks through timing. The payload is the JSON body; no event id or time.
 */
export function createApiKeyVerifier(config: ApiKeyConfig): Verifier {
  const name = config.header.toLowerCase()
  const keys = [...config.keys]

  return {
    async verify({ headers, body }: VerifyInput): Promise<Verified> {
      const value = header(headers, name)
      if (value === undefined || value === '')
        throw new RelayError('ERR_SIGNATURE_MISSING', `missing ${name} header`)
      const matched = secretIndexOf(value, keys)
      if (matched < 0) throw new RelayError('ERR_SIGNATURE_INVALID', 'no key matched')
      return { payload: parseJsonBody(body), keyId: `keys[${matched}]` }
    },
  }
}
