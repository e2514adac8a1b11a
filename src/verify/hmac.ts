// Generic HMAC signatures over the raw body in one header (GitHub `X-Hub-Signature-256`, Atlas, your own).
import { createHmac } from 'node:crypto'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { bytesEqual, decodeBase64, decodeHex, parseJsonBody } from './compare.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `verify` block of a generic HMAC source. */
export type HmacConfig = Extract<VerifyConfig, { type: 'hmac' }>

/** Turns each configured secret into HMAC key bytes; throws naming only the index. */
function hmacKeys(config: HmacConfig): Buffer[] {
  return config.secrets.map((secret, index) => {
    if (config.keyEncoding === 'utf8') return Buffer.from(secret, 'utf8')
    const key = decodeBase64(secret)
    if (key === undefined) throw new Error(`hmac: secrets[${index}] is not base64`)
    return key
  })
}

/**
 * Verifies `<header>: <prefix><signature>` where the signature is the HMAC of the raw body with any
 * configured secret, in hex (any case) or base64. The scheme signs no id or time, so the relay falls back
 * to the body's SHA-256 and the receive time; the payload is the JSON body.
 */
export function createHmacVerifier(config: HmacConfig): Verifier {
  const keys = hmacKeys(config)
  const name = config.header.toLowerCase()

  return {
    async verify({ headers, body }: VerifyInput): Promise<Verified> {
      const value = header(headers, name)?.trim()
      if (value === undefined || value === '')
        throw new RelayError('ERR_SIGNATURE_MISSING', `missing ${name} header`)
      if (!value.startsWith(config.prefix))
        throw new RelayError('ERR_SIGNATURE_INVALID', 'signature prefix missing')
      const text = value.slice(config.prefix.length)
      const given = config.encoding === 'hex' ? decodeHex(text) : decodeBase64(text)
      if (given === undefined) throw new RelayError('ERR_SIGNATURE_INVALID', `malformed ${name} header`)

      const matched = keys.findIndex((key) =>
        bytesEqual(given, createHmac(config.algorithm, key).update(body).digest()),
      )
      if (matched < 0) throw new RelayError('ERR_SIGNATURE_INVALID', 'no signature matched')
      return { payload: parseJsonBody(body), keyId: `secrets[${matched}]` }
    },
  }
}
