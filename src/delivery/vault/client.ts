// Authorized reads from Vault: the current token on each call, and one fresh login when a token is refused.
import type { VaultAuth } from './auth.js'
import { VaultError } from './errors.js'
import { type VaultAnswer, type VaultHttp, VaultUnreachable } from './http.js'

/** Reads from Vault as the relay. */
export interface VaultClient {
  /**
   * GET `/v1/<path>` (with `?list=true` for LIST): Vault's answer whatever its status, after one retry
   * with a new token when the first is refused and no longer valid (expired, revoked). Throws VaultError
   * when no answer came or no token could be had.
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
  /** True when Vault still takes `token` (lookup-self answers 200): a 403 was then the policy, not the token. */
  const stillValid = async (token: string): Promise<boolean> => {
    try {
      return (await http.send({ method: 'GET', path: '/v1/auth/token/lookup-self', token })).status === 200
    } catch {
      return false
    }
  }
  return {
    async get(path, query = {}) {
      const search = new URLSearchParams(query).toString()
      const full = `/v1/${path}${search === '' ? '' : `?${search}`}`
      const token = await auth.token()
      const answer = await once(full, token)
      if (answer.status !== 403) return answer
      // An expired or revoked token is a 403 too. A policy miss keeps the token (no login per denied
      // read); a token Vault no longer takes is replaced by one fresh login, and the read tried again.
      if (await stillValid(token)) return answer
      auth.refused(token)
      const fresh = await auth.token()
      return fresh === token ? answer : once(full, fresh)
    },
  }
}
