// The Vault token: a login (Kubernetes, AppRole) cached and renewed before its lease ends, or a token file.
import type { VaultAuthConfig } from '../../config/schema.js'
import { createTokenSource, type TokenSource } from '../../config/token.js'
import { outsideFix } from '../values.js'
import { failureOf, VaultError } from './errors.js'
import { type VaultHttp, VaultUnreachable } from './http.js'

/** The part of a pino logger the auth uses (never given a token). */
export interface VaultLog {
  debug?(obj: object, msg: string): void
  info?(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

/** Gives a token to call Vault with. */
export interface VaultAuth {
  /** The token to use now: logs in, renews or re-reads the file as needed. Throws VaultError. */
  token(): Promise<string>
  /** Vault refused `token` (403): forget it, so the next `token()` logs in again. */
  refused(token: string): void
}

interface Lease {
  token: string
  /** When to renew (two thirds into the lease), when it ends; Infinity for a token without expiry. */
  renewAt: number
  expiresAt: number
  renewable: boolean
  /** The lease the login gave: a renewal far shorter means the token nears its max TTL. */
  loginSeconds: number
}

/** Makes the token source `config.auth` describes; `clock` is epoch ms. */
export function createVaultAuth(
  auth: VaultAuthConfig,
  http: VaultHttp,
  log: VaultLog,
  clock: () => number = Date.now,
): VaultAuth {
  if (auth.method === 'token') return tokenFileAuth(auth.tokenFile)
  const what = `${auth.method} login (mount ${auth.mount}${auth.method === 'kubernetes' ? `, role ${auth.role}` : ''})`
  const credential: TokenSource = createTokenSource({
    tokenFile: auth.method === 'kubernetes' ? auth.tokenFile : auth.secretIdFile,
    token: auth.method === 'approle' ? auth.secretId : undefined,
  })
  const loginBody = (secret: string) =>
    auth.method === 'kubernetes'
      ? { role: auth.role, jwt: secret }
      : { role_id: auth.roleId, secret_id: secret }

  let lease: Lease | undefined
  let pending: Promise<string> | undefined

  const leaseOf = (body: unknown, loginSeconds?: number): Lease => {
    const a = (body as { auth?: Record<string, unknown> } | undefined)?.auth
    const token = a?.['client_token']
    if (typeof token !== 'string' || token === '') {
      throw new VaultError({ kind: 'retry', error: `Vault ${what} answered without a client_token` })
    }
    const raw = a?.['lease_duration']
    const seconds = typeof raw === 'number' && Number.isFinite(raw) && raw > 0 ? raw : 0
    const now = clock()
    return {
      token,
      renewAt: seconds === 0 ? Number.POSITIVE_INFINITY : now + (seconds * 2000) / 3,
      expiresAt: seconds === 0 ? Number.POSITIVE_INFINITY : now + seconds * 1000,
      renewable: a?.['renewable'] === true,
      loginSeconds: loginSeconds ?? seconds,
    }
  }

  const call = async (path: string, token: string | undefined, body: unknown) => {
    try {
      return await http.send({ method: 'POST', path, ...(token === undefined ? {} : { token }), body })
    } catch (err) {
      if (err instanceof VaultUnreachable) throw new VaultError({ kind: 'retry', error: err.message })
      throw err
    }
  }

  const login = async (): Promise<Lease> => {
    let secret: string
    try {
      secret = credential()
    } catch {
      // The read error may name the file; the message says which setting instead.
      const setting = auth.method === 'kubernetes' ? 'vault.auth.tokenFile' : 'vault.auth.secretIdFile'
      throw new VaultError(outsideFix(`Vault ${what}: ${setting} cannot be read or is empty`))
    }
    const answer = await call(`/v1/auth/${auth.mount}/login`, undefined, loginBody(secret))
    if (answer.status !== 200) {
      const failure = failureOf(answer.status, answer.body, `Vault ${what}`, answer.retryAfterMs)
      // A refused login (bad role, bad JWT, wrong secret id, no such auth mount) is fixed outside the
      // relay, like a 403; throttling and server errors are retried as usual.
      const refused = answer.status >= 400 && answer.status < 500 && answer.status !== 429
      const error = refused ? outsideFix(`Vault ${what} refused (HTTP ${answer.status})`) : failure
      log.warn({ method: auth.method, mount: auth.mount, status: answer.status }, error.error)
      throw new VaultError(error.kind === 'dead' ? { kind: 'retry', error: error.error } : error)
    }
    const fresh = leaseOf(answer.body)
    log.info?.(
      {
        method: auth.method,
        mount: auth.mount,
        leaseSeconds: fresh.loginSeconds,
        renewable: fresh.renewable,
      },
      'logged in to Vault',
    )
    return fresh
  }

  /** Renews the lease, or undefined when it cannot be (then a login follows). */
  const renew = async (current: Lease): Promise<Lease | undefined> => {
    let answer: Awaited<ReturnType<typeof call>>
    try {
      answer = await call('/v1/auth/token/renew-self', current.token, {})
    } catch (err) {
      // Vault is unreachable: keep the token while its lease lasts; the next call tries again.
      if (err instanceof VaultError && clock() < current.expiresAt) return current
      throw err
    }
    if (answer.status !== 200) {
      log.warn(
        { method: auth.method, status: answer.status },
        'Vault token renewal refused: logging in again',
      )
      return undefined
    }
    const renewed = leaseOf(answer.body, current.loginSeconds)
    const seconds = (renewed.expiresAt - clock()) / 1000
    // Near its max TTL Vault grants less than asked: log in for a fresh token before this one ends.
    if (seconds < current.loginSeconds / 2) return undefined
    log.debug?.({ method: auth.method, leaseSeconds: Math.round(seconds) }, 'renewed the Vault token')
    return renewed
  }

  const refresh = async (): Promise<string> => {
    const current = lease
    if (current?.renewable && clock() < current.expiresAt) {
      const renewed = await renew(current)
      if (renewed !== undefined) {
        lease = renewed
        return renewed.token
      }
    }
    lease = undefined
    lease = await login()
    return lease.token
  }

  return {
    async token() {
      const current = lease
      const now = clock()
      if (current !== undefined && now < current.renewAt) return current.token
      if (current !== undefined && !current.renewable && now < current.expiresAt) return current.token
      pending ??= refresh().finally(() => {
        pending = undefined
      })
      return pending
    },
    refused(token) {
      if (lease?.token === token) lease = undefined
    },
  }
}

/** A token file (e.g. Vault Agent's sink), re-read when it changes; no renewal (its writer renews). */
function tokenFileAuth(file: string): VaultAuth {
  const read = createTokenSource({ tokenFile: file })
  return {
    async token() {
      try {
        return read()
      } catch {
        throw new VaultError(outsideFix('vault.auth.tokenFile cannot be read or is empty'))
      }
    },
    refused() {},
  }
}
