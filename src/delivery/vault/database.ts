// Database secrets engine static roles: the username or password of the rotation named by last_vault_rotation.
import type { VaultDatabaseRef } from '../../config/schema.js'
import type { CurrentVersion, Failure, Resolved } from '../values.js'
import { encodePath, type VaultClient } from './client.js'
import { failureOf } from './errors.js'

interface StaticCreds {
  rotation: string
  /** Present only when asked for: `current` drops the credentials as soon as the version is read. */
  value?: unknown
}

const where = (ref: VaultDatabaseRef) => `${ref.mount}/static-creds/${ref.role}`

/**
 * Orders two `last_vault_rotation` times (RFC 3339, nanoseconds): by the instant, then by the text
 * (same-zone times of equal length sort as text), so nanoseconds count where milliseconds tie.
 */
export function compareRotations(a: string, b: string): number {
  if (a === b) return 0
  const ms = Date.parse(a) - Date.parse(b)
  if (!Number.isNaN(ms) && ms !== 0) return ms
  return a < b ? -1 : 1
}

/** One read of the static role; `keep` says whether the credential is kept (resolve) or dropped (current). */
async function readCreds(
  client: VaultClient,
  ref: VaultDatabaseRef,
  keep: boolean,
): Promise<StaticCreds | Failure> {
  const answer = await client.get(`${encodePath(ref.mount)}/static-creds/${encodePath(ref.role)}`)
  if (answer.status !== 200) return failureOf(answer.status, answer.body, where(ref), answer.retryAfterMs)
  const data = (answer.body as { data?: Record<string, unknown> } | undefined)?.data
  const rotation = data?.['last_vault_rotation']
  if (typeof rotation !== 'string' || rotation === '') {
    return { kind: 'retry', error: `Vault's answer for ${where(ref)} has no last_vault_rotation` }
  }
  if (!keep) return { rotation }
  return { rotation, value: ref.key === 'username' ? data?.['username'] : data?.['password'] }
}

/**
 * The credential of `ref`: without a version, the current rotation's; with one, only while it is the
 * current rotation (an older one is superseded: Vault keeps no earlier password; a newer one not yet
 * visible is retried).
 */
export async function resolveDatabase(client: VaultClient, ref: VaultDatabaseRef): Promise<Resolved> {
  const creds = await readCreds(client, ref, true)
  if ('kind' in creds) return creds
  if (ref.version !== undefined) {
    const order = compareRotations(ref.version, creds.rotation)
    if (order < 0) {
      return {
        kind: 'superseded',
        error: `the rotation of ${where(ref)} at ${ref.version} is no longer current (${creds.rotation} is)`,
      }
    }
    if (order > 0)
      return { kind: 'retry', error: `the rotation of ${where(ref)} at ${ref.version} is not visible yet` }
  }
  const value = creds.value
  if (typeof value !== 'string' || value === '')
    return { kind: 'dead', error: `${where(ref)} has no ${ref.key}` }
  return { kind: 'value', value }
}

/**
 * The current rotation of `ref`: the endpoint sends the password too, which is dropped unread. A failure
 * is returned as it is, as by `currentKv`.
 */
export async function currentDatabase(
  client: VaultClient,
  ref: VaultDatabaseRef,
): Promise<CurrentVersion | Failure> {
  const creds = await readCreds(client, ref, false)
  if ('kind' in creds) return creds
  const created = Date.parse(creds.rotation)
  return {
    kind: 'version',
    ref: { ...ref, version: creds.rotation },
    version: creds.rotation,
    ...(Number.isNaN(created) ? {} : { createdAt: created }),
  }
}
