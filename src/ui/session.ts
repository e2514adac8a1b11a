// Console sessions: which token logged in (never the token), a random id for the audit list, an expiry;
// carried in a cookie that @fastify/cookie signs with a key derived from the tokens.
import { hkdfSync, randomBytes } from 'node:crypto'
import { secretEqual } from '../verify/compare.js'

/** The session cookie's name. */
export const SESSION_COOKIE = 'vr_session'

/** The console's cookies (session, CSRF): scoped to /ui, signed, and kept off cross-site requests (SameSite=Strict). */
export const COOKIE_OPTIONS = { path: '/ui', httpOnly: true, sameSite: 'strict', signed: true } as const

/** What a session may do: `admin` sees and acts; `read-only` only sees. */
export type Role = 'admin' | 'read-only'

export interface Session {
  role: Role
  /** Random, shown in the audit list as who acted (`admin:3f9a1c2b`). */
  id: string
  /** Epoch ms after which the session is refused and the token asked again. */
  expiresAt: number
}

/**
 * The cookie signing key: HKDF-SHA256 of the admin token (and the read-only token, when set). Changing
 * either token ends every session; the key is never stored, logged or shown.
 */
export function sessionKey(adminToken: string, readOnlyToken: string | undefined): Buffer {
  const ikm = `${adminToken}\u0000${readOnlyToken ?? ''}`
  return Buffer.from(hkdfSync('sha256', ikm, 'vault-relay', 'console session cookie v1', 32))
}

/** The role a given token logs in as, compared in constant time; null when it is neither token. */
export function roleOf(given: string, adminToken: string, readOnlyToken: string | undefined): Role | null {
  if (given === '') return null
  if (secretEqual(given, adminToken)) return 'admin'
  if (readOnlyToken !== undefined && readOnlyToken !== '' && secretEqual(given, readOnlyToken))
    return 'read-only'
  return null
}

/** A new session for `role` lasting `ttlMs` from `now`. */
export function newSession(role: Role, now: number, ttlMs: number): Session {
  return { role, id: randomBytes(6).toString('hex'), expiresAt: now + ttlMs }
}

/** The cookie's value (signed by the caller): `role.id.expiresAt`. */
export function encodeSession(s: Session): string {
  return `${s.role}.${s.id}.${s.expiresAt}`
}

/** A session from a verified cookie value, or null when malformed or expired at `now`. */
export function decodeSession(value: string, now: number): Session | null {
  const m = /^(admin|read-only)\.([0-9a-f]{12})\.(\d{1,16})$/.exec(value)
  if (m === null) return null
  const expiresAt = Number(m[3])
  if (!(expiresAt > now)) return null
  return { role: m[1] as Role, id: m[2]!, expiresAt }
}

/** Who acted, as the audit list records it. */
export const actorOf = (s: Session) => `${s.role}:${s.id}`
