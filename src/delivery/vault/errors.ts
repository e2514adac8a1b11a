// Vault answers translated at the edge: retry (counted or not), or dead; reasons name paths, never values.
import { type Failure, outsideFix } from '../values.js'
import { vaultErrors } from './http.js'

/** Thrown by the client and the auth: carries the failure the resolver returns as it is. */
export class VaultError extends Error {
  override readonly name = 'VaultError'
  constructor(readonly failure: Failure) {
    super(failure.error)
  }
}

/** A non-2xx answer for `what` (e.g. `secret/data/app/db`) as retry or dead. */
export function failureOf(status: number, body: unknown, what: string, retryAfterMs?: number): Failure {
  const after = retryAfterMs === undefined ? {} : { afterMs: retryAfterMs }
  const said = vaultErrors(body)
  const detail = said === '' ? '' : `: ${said}`
  if (status === 403) {
    return outsideFix(`permission denied for ${what} (HTTP 403): the relay's Vault policy must allow it`)
  }
  if (status === 404) return { kind: 'dead', error: `no such secret or version: ${what}` }
  if (status === 429) return { kind: 'retry', error: `Vault is rate limiting (HTTP 429)`, ...after }
  if (status === 503) return { kind: 'retry', error: `Vault is sealed or unavailable (HTTP 503)`, ...after }
  if (status >= 300 && status < 400) {
    return {
      kind: 'retry',
      error: `Vault answered HTTP ${status} for ${what} (redirects are not followed: point vault.address at the active node or its load balancer)`,
    }
  }
  if (status >= 500 || status === 412 || status === 408) {
    return { kind: 'retry', error: `Vault answered HTTP ${status} for ${what}${detail}`, ...after }
  }
  return { kind: 'dead', error: `Vault refused the request for ${what} (HTTP ${status}${detail})` }
}
