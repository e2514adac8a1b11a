// From Secrets seen by the watch to the events the relay gets: only when a watched key's value changed.
import { createHmac, randomBytes } from 'node:crypto'
import type { WatchSpec } from './config.js'

/** The part of a Secret the notifier reads. */
export interface SecretObject {
  metadata?: {
    name?: string | undefined
    namespace?: string | undefined
    uid?: string | undefined
    resourceVersion?: string | undefined
    labels?: Record<string, string> | undefined
  }
  data?: Record<string, string> | undefined
}

/** The event POSTed (encrypted) to the relay for one change of one Secret. */
export interface SecretEvent {
  type: 'secret.changed'
  /** `<uid>:<resourceVersion>`: the same change, seen again after a relist or a restart, has the same id. */
  id: string
  /** When the notifier saw the change (RFC 3339): never-regress orders a Secret's changes by it. */
  time: string
  namespace: string
  name: string
  uid: string
  resourceVersion: string
  labels: Record<string, string>
  /** The watched keys present in the Secret, base64-decoded (UTF-8). */
  data: Record<string, string>
}

/** Decides which Secrets changed in a way the relay must hear about. */
export interface ChangeTracker {
  /** The event to send for this version of a Secret, or undefined when no watched value changed. */
  seen(secret: SecretObject): SecretEvent | undefined
  /** Forgets a deleted Secret. */
  forget(secret: SecretObject): void
  /** The relay took (or already had) the change `eventId` of Secret `uid`. */
  acknowledged(uid: string, eventId: string): void
  /**
   * The periodic resync: the event to send again for this Secret when its watched values differ from the
   * last ones the relay acknowledged (a change it refused, or one never sent), else undefined.
   */
  resync(secret: SecretObject): SecretEvent | undefined
}

/**
 * Remembers, per Secret uid, a keyed digest of its watched values (never the values): a resync, a
 * relist or annotation churn brings the same digest and sends nothing. The digest key is random per
 * process, so after a restart every Secret is sent once again and the relay's dedup (same event id)
 * answers `duplicate` for what it already has.
 */
export function createChangeTracker(spec: WatchSpec, clock: () => number = Date.now): ChangeTracker {
  const key = randomBytes(32)
  const digests = new Map<string, string>()
  /** Per uid: the change last handed to the sender (id and digest), and the digest the relay took. */
  const sent = new Map<string, { id: string; digest: string }>()
  const acked = new Map<string, string>()
  const pattern = spec.namePattern === undefined ? undefined : new RegExp(spec.namePattern)
  // Strictly rising, so two changes seen in the same millisecond still order by time.
  let last = 0
  const now = () => {
    last = Math.max(clock(), last + 1)
    return last
  }
  /** The event for `secret` unless `skip(uid, digest)` says it is known. */
  function eventOf(
    secret: SecretObject,
    skip: (uid: string, digest: string) => boolean,
  ): SecretEvent | undefined {
    const { name, namespace, uid, resourceVersion, labels } = secret.metadata ?? {}
    if (!name || !namespace || !uid || !resourceVersion) return undefined
    if (pattern !== undefined && !pattern.test(name)) return undefined
    const present = spec.keys.filter((k) => typeof secret.data?.[k] === 'string')
    if (present.length === 0) return undefined
    const mac = createHmac('sha256', key)
    for (const k of present) mac.update(`${k.length}:${k}${secret.data![k]!.length}:${secret.data![k]!}`)
    const digest = mac.digest('base64')
    if (skip(uid, digest)) return undefined
    digests.set(uid, digest)
    const id = `${uid}:${resourceVersion}`
    sent.set(uid, { id, digest })
    const data = Object.fromEntries(
      present.map((k) => [k, Buffer.from(secret.data![k]!, 'base64').toString('utf8')]),
    )
    return {
      type: 'secret.changed',
      id,
      time: new Date(now()).toISOString(),
      namespace,
      name,
      uid,
      resourceVersion,
      labels: labels ?? {},
      data,
    }
  }
  return {
    seen: (secret) => eventOf(secret, (uid, digest) => digests.get(uid) === digest),
    resync: (secret) => eventOf(secret, (uid, digest) => acked.get(uid) === digest),
    acknowledged(uid, eventId) {
      const last = sent.get(uid)
      if (last?.id === eventId) acked.set(uid, last.digest)
    },
    forget(secret) {
      const uid = secret.metadata?.uid
      if (uid === undefined) return
      digests.delete(uid)
      sent.delete(uid)
      acked.delete(uid)
    },
  }
}
