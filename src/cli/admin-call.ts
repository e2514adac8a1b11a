// The admin commands' client of the admin API: one authenticated JSON call, and reading its answers.
import { request } from 'undici'
import { AdminError } from './admin-error.js'

const TIMEOUT_MS = 10_000

/** An admin API answer (JSON, read loosely: the CLI prints what it finds). */
export type Json = Record<string, unknown>

/** One call of the admin API at the relay the command talks to. */
export type At = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<Json>

/** `v` when it is a list of objects, else none. */
export const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : [])

/** `path` with the `keys` of `values` that are set as its query string. */
export function withQuery<K extends string>(
  path: string,
  values: Partial<Record<K, string | boolean | undefined>>,
  keys: readonly K[],
): string {
  const query = new URLSearchParams()
  for (const k of keys) {
    const v = values[k]
    if (typeof v === 'string') query.set(k, v)
  }
  return query.size > 0 ? `${path}?${query}` : path
}

/** Calls the admin API; resolves with the JSON answer, throws AdminError on anything else. */
export async function call(
  url: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Json> {
  let res: Awaited<ReturnType<typeof request>>
  try {
    res = await request(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    })
  } catch (err) {
    throw new AdminError(`cannot reach the relay at ${url}: ${(err as Error).message}`)
  }
  const text = await res.body.text()
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return doc as Json
  const detail = (doc as { detail?: unknown } | undefined)?.detail
  // Without admin.token the relay registers no /admin route: its not-found handler answers.
  if (
    res.statusCode === 404 &&
    (detail === undefined || (typeof detail === 'string' && /^no route for /.test(detail)))
  )
    throw new AdminError(
      `the relay's admin API is off (set admin.token) at ${url}: its config's admin.token or RELAY_ADMIN_TOKEN turns it on${detail === undefined ? ' (or this is not a vault-relay: its 404 has no problem detail)' : ''}`,
    )
  throw new AdminError(
    `the relay answered ${res.statusCode}: ${typeof detail === 'string' ? detail : 'no detail'}`,
  )
}
