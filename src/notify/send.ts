// One signed POST of a notification to `notify.url`: Standard Webhooks headers, a timeout, no redirect.
import type { Dispatcher } from 'undici'
import { parseRetryAfter } from '../delivery/backoff.js'
import { request } from '../http/undici.js'
import { signStandardWebhook } from '../verify/standard-webhooks.js'
import { USER_AGENT } from '../version.js'

/** What a try came to. Reasons never quote the URL (it may hold a token, as Slack's do) or the secret. */
export type PostResult = { ok: true } | { ok: false; reason: string; retryAfterMs?: number }

export interface PostOptions {
  url: string
  secret: string
  dispatcher: Dispatcher
  timeoutMs: number
  now: number
  /** Aborted when the relay stops: the try ends at once (and is tried again after the restart). */
  signal?: AbortSignal
}

/**
 * Posts `body` with `webhook-id: id`, `webhook-timestamp` (now) and `webhook-signature` (v1 HMAC of
 * `id.timestamp.body`). A 2xx is taken; anything else, or no answer within `timeoutMs`, is a failed try.
 */
export async function postNotification(options: PostOptions, id: string, body: string): Promise<PostResult> {
  const timestamp = Math.floor(options.now / 1000)
  try {
    const answer = await request(options.url, {
      method: 'POST',
      dispatcher: options.dispatcher,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(options.secret, id, timestamp, body),
      },
      body,
      signal:
        options.signal === undefined
          ? AbortSignal.timeout(options.timeoutMs)
          : AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]),
    })
    // the receiver's answer says nothing we keep: read it off so the connection can be reused
    await answer.body.dump({ limit: 64 * 1024 }).catch(() => {})
    if (answer.statusCode >= 200 && answer.statusCode < 300) return { ok: true }
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], options.now)
    return {
      ok: false,
      reason: `the receiver answered ${answer.statusCode}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    }
  } catch (err) {
    const e = err as { name?: string; code?: string }
    if (e.name === 'TimeoutError') return { ok: false, reason: `no answer within ${options.timeoutMs} ms` }
    if (options.signal?.aborted)
      return { ok: false, reason: 'the relay stopped before the receiver answered' }
    return { ok: false, reason: `the receiver could not be reached (${e.code ?? e.name ?? 'error'})` }
  }
}
