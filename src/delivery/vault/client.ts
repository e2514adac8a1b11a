// Authorized reads from Vault: the current token on each call, and one fresh login when a token is refused.
import type { VaultAuth } from './auth.js'
import { VaultError } from './errors.js'
import { type VaultAnswer, type VaultHttp, VaultUnreachable } from './http.js'

/** Reads from Vault as the relay. */
export interface VaultClient {
  /**
   * GET `/v1/<path>` (with `?list=true` for LIST): Vault's answer whatever its status, after one retry
   * with a new token when the first is refused (expired, revoked). Throws VaultError when no answer
   * came or no token could be had.
   */
  get(path: string, query?: Record<string, string>): Promise<VaultAnswer>
}

/** Encodes each segment of a Vault path (`app/db` stays `app/db`, a space becomes %20). */
export function encodePath(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/')
}

/** A client over `http` with tokens from `auth`. */
export function createVaultClient(http: VaultHttp, auth: VaultAuth): VaultClient {
  const once = async (path: string, token: string): Promise<VaultAnswer> => {
    try {
      return await http.send({ method: 'GET', path, token })
    } catch (err) {
      if (err instanceof VaultUnreachable) throw new VaultError({ kind: 'retry', error: err.message })
      throw err
    }
  }
  return {
    async get(path, query = {}) {
      const search = new URLSearchParams(query).toString()
      const full = `/v1/${path}${search === '' ? '' : `?${search}`}`
      const token = await auth.token()
      const answer = await once(full, token)
      if (answer.status !== 403) return answer
      // An expired or revoked token is a 403 too: log in again once, then believe the answer.
      auth.refused(token)
      const fresh = await auth.token()
      return fresh === token ? answer : once(full, fresh)
    },
  }
}
