// KV v2 at delivery and for reconciliation: a field of one version, never one older than the current version.
import type { VaultKvRef } from '../../config/schema.js'
import type { CurrentVersion, Failure, Resolved } from '../values.js'
import { encodePath, type VaultClient } from './client.js'
import { failureOf } from './errors.js'

interface VersionMeta {
  createdTime: string | undefined
  deletionTime: string
  destroyed: boolean
}

/** What `GET <mount>/metadata/<path>` says: the current version and each version's state. */
interface KvMetadata {
  currentVersion: number
  updatedTime: string | undefined
  versions: Map<number, VersionMeta>
}

const where = (ref: VaultKvRef) => `${ref.mount}/${ref.path}`
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

function parseMetadata(body: unknown): KvMetadata | undefined {
  const data = (body as { data?: Record<string, unknown> } | undefined)?.data
  const current = data?.['current_version']
  if (typeof current !== 'number' || !Number.isInteger(current)) return undefined
  const versions = new Map<number, VersionMeta>()
  const raw = data?.['versions']
  if (typeof raw === 'object' && raw !== null) {
    for (const [n, v] of Object.entries(raw)) {
      const meta = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>
      versions.set(Number(n), {
        createdTime: str(meta['created_time']),
        deletionTime: str(meta['deletion_time']) ?? '',
        destroyed: meta['destroyed'] === true,
      })
    }
  }
  return { currentVersion: current, updatedTime: str(data?.['updated_time']), versions }
}

/** Why a version cannot be read (destroyed, or deleted: a deletion_time now or past), or undefined. */
function gone(meta: VersionMeta | undefined, version: number, now: number): string | undefined {
  if (meta?.destroyed) return `version ${version} was destroyed`
  const at = meta?.deletionTime ? Date.parse(meta.deletionTime) : Number.NaN
  if (!Number.isNaN(at) && at <= now) return `version ${version} was deleted`
  return undefined
}

async function readMetadata(client: VaultClient, ref: VaultKvRef): Promise<KvMetadata | Failure> {
  const what = `${ref.mount}/metadata/${ref.path}`
  const answer = await client.get(`${encodePath(ref.mount)}/metadata/${encodePath(ref.path)}`)
  if (answer.status !== 200) return failureOf(answer.status, answer.body, what, answer.retryAfterMs)
  return (
    parseMetadata(answer.body) ?? {
      kind: 'retry',
      error: `Vault's metadata for ${what} has no current_version`,
    }
  )
}

/** The field `key` of a version's data map: a string as it is, other JSON as its text; missing or empty is dead. */
function field(body: unknown, ref: VaultKvRef, version: string): Resolved {
  const data = (body as { data?: { data?: unknown } } | undefined)?.data?.data
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { kind: 'dead', error: `${where(ref)} ${version} holds no data (is the mount KV version 2?)` }
  }
  if (!Object.hasOwn(data, ref.key))
    return { kind: 'dead', error: `key "${ref.key}" is not in ${where(ref)} ${version}` }
  const value = (data as Record<string, unknown>)[ref.key]
  if (value === null || value === '')
    return { kind: 'dead', error: `key "${ref.key}" is empty in ${where(ref)} ${version}` }
  return { kind: 'value', value: typeof value === 'string' ? value : JSON.stringify(value) }
}

/**
 * The value of `ref`: without a version, the current one; with one, only while it is the current
 * version (an older one is superseded, as AWS treats a version no longer AWSCURRENT; a newer one not
 * yet visible, e.g. on a lagging standby, is retried).
 */
export async function resolveKv(client: VaultClient, ref: VaultKvRef, now: number): Promise<Resolved> {
  const data = `${encodePath(ref.mount)}/data/${encodePath(ref.path)}`
  if (ref.version === undefined) {
    const answer = await client.get(data)
    if (answer.status === 404) {
      const meta = (answer.body as { data?: { metadata?: Record<string, unknown> } } | undefined)?.data
        ?.metadata
      if (meta !== undefined)
        return { kind: 'dead', error: `the current version of ${where(ref)} was deleted or destroyed` }
    }
    if (answer.status !== 200)
      return failureOf(answer.status, answer.body, `${ref.mount}/data/${ref.path}`, answer.retryAfterMs)
    return field(answer.body, ref, 'current version')
  }
  const meta = await readMetadata(client, ref)
  if ('kind' in meta) return meta
  const version = ref.version
  if (version < meta.currentVersion) {
    return {
      kind: 'superseded',
      error: `version ${version} of ${where(ref)} is no longer current (version ${meta.currentVersion} is)`,
    }
  }
  if (version > meta.currentVersion) {
    return {
      kind: 'retry',
      error: `version ${version} of ${where(ref)} is not visible yet (current is ${meta.currentVersion})`,
    }
  }
  const why = gone(meta.versions.get(version), version, now)
  if (why !== undefined) return { kind: 'dead', error: `${why}: ${where(ref)}` }
  const answer = await client.get(data, { version: String(version) })
  if (answer.status === 404)
    return { kind: 'dead', error: `no such secret or version: ${where(ref)} version ${version}` }
  if (answer.status !== 200)
    return failureOf(answer.status, answer.body, `${ref.mount}/data/${ref.path}`, answer.retryAfterMs)
  return field(answer.body, ref, `version ${version}`)
}

/**
 * The current version of `ref` from its metadata (never the data): the ref pinned to it, and its time; or
 * the failure to read it, as it is (the resolver tells permission problems apart, then makes it an answer).
 */
export async function currentKv(
  client: VaultClient,
  ref: VaultKvRef,
  now: number,
): Promise<CurrentVersion | Failure> {
  const meta = await readMetadata(client, ref)
  if ('kind' in meta) return meta
  const version = meta.currentVersion
  if (version < 1) return { kind: 'missing', error: `${where(ref)} has no version` }
  const state = meta.versions.get(version)
  const why = gone(state, version, now)
  if (why !== undefined) return { kind: 'missing', error: `${why}: ${where(ref)}` }
  const created = Date.parse(state?.createdTime ?? meta.updatedTime ?? '')
  return {
    kind: 'version',
    ref: { ...ref, version },
    version: String(version),
    ...(Number.isNaN(created) ? {} : { createdAt: created }),
  }
}

/** The paths of the secrets under `prefix` (LIST, folders followed), at most `limit`. */
export async function listKv(
  client: VaultClient,
  mount: string,
  prefix: string,
  limit = 10_000,
): Promise<{ kind: 'paths'; paths: string[] } | Failure> {
  const paths: string[] = []
  const folders = [prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`]
  for (let folder = folders.shift(); folder !== undefined; folder = folders.shift()) {
    const answer = await client.get(`${encodePath(mount)}/metadata/${encodePath(folder)}`, { list: 'true' })
    if (answer.status === 404) continue
    if (answer.status !== 200)
      return failureOf(answer.status, answer.body, `${mount}/metadata/${folder}`, answer.retryAfterMs)
    const keys = (answer.body as { data?: { keys?: unknown } } | undefined)?.data?.keys
    for (const key of Array.isArray(keys) ? keys : []) {
      if (typeof key !== 'string' || key === '') continue
      if (key.endsWith('/')) folders.push(`${folder}${key}`)
      else paths.push(`${folder}${key}`)
      if (paths.length > limit)
        return { kind: 'dead', error: `more than ${limit} secrets under ${mount}/${prefix}` }
    }
  }
  return { kind: 'paths', paths: paths.sort() }
}
