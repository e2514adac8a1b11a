// Vault Enterprise event notifications (kv-v2/data-write over a WebSocket) as a push trigger, reconnecting with backoff.
import { WebSocket } from 'undici'
import type { VaultAuth, VaultLog } from './auth.js'
import type { VaultHttp } from './http.js'

/** A KV v2 write Vault announced: which secret, and its new current version. */
export interface KvWrite {
  /** The event's id (CloudEvents `id`). */
  id: string
  mount: string
  path: string
  version: number
  /** The event's time, epoch ms, when it has one. */
  time?: number
}

/** A live subscription; `close()` ends it and stops reconnecting. */
export interface Subscription {
  close(): void
}

export interface SubscribeOptions {
  /** Called for each write (best effort: Vault keeps no backlog, so the sweep still runs). */
  onWrite(write: KvWrite): void
  /** First and longest wait before reconnecting (doubling between). */
  retryBaseMs?: number
  retryMaxMs?: number
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined

/**
 * One event message (`?json=true`: CloudEvents JSON) as a KV write, or undefined for anything else.
 * The secret is `data.event.metadata.data_path` (`<mount>/data/<path>`) below `plugin_info.mount_path`.
 */
export function parseKvWrite(text: string): KvWrite | undefined {
  let doc: Record<string, unknown> | undefined
  try {
    doc = obj(JSON.parse(text))
  } catch {
    return undefined
  }
  const data = obj(doc?.['data'])
  const event = obj(data?.['event'])
  const meta = obj(event?.['metadata'])
  const mountPath = obj(data?.['plugin_info'])?.['mount_path']
  const dataPath = meta?.['data_path'] ?? meta?.['path']
  const version = Number(meta?.['current_version'])
  if (typeof mountPath !== 'string' || typeof dataPath !== 'string') return undefined
  if (!Number.isInteger(version) || version < 1) return undefined
  const mount = mountPath.replace(/\/+$/, '')
  const prefix = `${mount}/data/`
  const at = dataPath.indexOf(prefix)
  // In a namespace the data path may start with the namespace: the mount must begin a segment.
  if (mount === '' || at < 0 || (at > 0 && dataPath[at - 1] !== '/')) return undefined
  const path = dataPath.slice(at + prefix.length)
  if (path === '') return undefined
  const id = doc?.['id'] ?? event?.['id']
  const time = typeof doc?.['time'] === 'string' ? Date.parse(doc['time']) : Number.NaN
  return {
    id: typeof id === 'string' ? id : `${mount}/${path}@${version}`,
    mount,
    path,
    version,
    ...(Number.isNaN(time) ? {} : { time }),
  }
}

/**
 * Subscribes to `kv-v2/data-write` events (`GET /v1/sys/events/subscribe/kv-v2/data-write?json=true`,
 * upgraded to a WebSocket; Vault Enterprise 1.16+, on the active node; the token needs `subscribe` on
 * that path and `read` on the secrets). A dropped or refused connection is retried with backoff, with
 * a fresh token when it never opened.
 */
export function subscribeKvWrites(
  http: VaultHttp,
  auth: VaultAuth,
  log: VaultLog,
  options: SubscribeOptions,
): Subscription {
  const url = `${http.address.replace(/^http/, 'ws')}/v1/sys/events/subscribe/kv-v2/data-write?json=true`
  const base = options.retryBaseMs ?? 1_000
  const max = options.retryMaxMs ?? 60_000
  let closed = false
  let failures = 0
  let socket: WebSocket | undefined
  let timer: NodeJS.Timeout | undefined

  const retry = () => {
    if (closed) return
    failures += 1
    const wait = Math.min(max, base * 2 ** Math.min(failures - 1, 20))
    timer = setTimeout(() => void connect(), wait)
    timer.unref?.()
  }

  const connect = async () => {
    let token: string
    try {
      token = await auth.token()
    } catch (err) {
      log.warn({ reason: (err as Error).message }, 'Vault events: no token, retrying')
      return retry()
    }
    if (closed) return
    const headers: Record<string, string> = { 'x-vault-token': token }
    if (http.namespace !== undefined) headers['x-vault-namespace'] = http.namespace
    let opened = false
    const ws = new WebSocket(url, { dispatcher: http.dispatcher, headers })
    socket = ws
    ws.onopen = () => {
      opened = true
      failures = 0
      log.info?.({ events: 'kv-v2/data-write' }, 'subscribed to Vault events')
    }
    ws.onmessage = (message) => {
      const write = typeof message.data === 'string' ? parseKvWrite(message.data) : undefined
      if (write === undefined) return log.debug?.({}, 'Vault events: ignored a message that is no KV write')
      options.onWrite(write)
    }
    ws.onclose = (event) => {
      if (closed) return
      // A refused upgrade (403: no subscribe capability, or a token Vault no longer takes) never opens.
      if (!opened) auth.refused(token)
      log.warn({ code: event.code, opened }, 'Vault event subscription closed: reconnecting')
      retry()
    }
  }

  void connect()
  return {
    close() {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      socket?.close()
    },
  }
}
