// Vault answers translated at the edge: retry (counted or not), or dead; reasons name paths, never values.
import type { Resolved } from '../values.js'
import { vaultErrors } from './http.js'

/**
 * Permission denied or a refused login: wait this long, as for AWS credentials. A policy or role fix
 * outside the relay ends it, so the retries must not use up attempts or age and lose the secret.
 */
export const PERMISSION_RETRY_MS = 60_000

/** A failed Vault call, as the delivery worker takes it. */
export type VaultFailure = Extract<Resolved, { kind: 'retry' | 'dead' }>

/** Thrown by the client and the auth: carries the failure the resolver returns as it is. */
export class VaultError extends Error {
  override readonly name = 'VaultError'
  constructor(readonly failure: VaultFailure) {
    super(failure.error)
  }
}

/** A retry that a fix outside the relay ends (policy, role, credentials). */
export function outsideFix(error: string): VaultFailure {
  return { kind: 'retry', error, afterMs: PERMISSION_RETRY_MS, countAttempt: false }
}

/** A non-2xx answer for `what` (e.g. `secret/data/app/db`) as retry or dead. */
export function failureOf(status: number, body: unknown, what: string, retryAfterMs?: number): VaultFailure {
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
