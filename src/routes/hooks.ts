// POST /hooks/{source}: raw body in, the ingest service's answer out.
import { type Readable, Transform } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import { isRelayError, RelayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { bodyTooLarge, type Ingest } from '../receive/ingest.js'
import { createRefusalLog, UNKNOWN_SOURCE_LABEL } from './refusals.js'

/**
 * `payload` passed through until more than `limit` bytes came, then failed with the source's 413;
 * `receivedEncodedLength` is what Fastify checks against Content-Length.
 */
function capped(payload: Readable, limit: number): Readable {
  let received = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length
      counted.receivedEncodedLength = received
      if (received > limit) callback(bodyTooLarge(limit))
      else callback(null, chunk)
    },
  })
  const counted = Object.assign(counter, { receivedEncodedLength: 0 })
  payload.on('error', (err) => counter.destroy(err))
  return payload.pipe(counted)
}

/** The query string of a request URL without `?` (a secret for some sources: passed on, never logged). */
function queryOf(url: string): string | undefined {
  const at = url.indexOf('?')
  return at < 0 ? undefined : url.slice(at + 1)
}

interface HookParams {
  source: string
}

export interface HookRouteOptions {
  config: Config
  ingest: Ingest
  metrics: Metrics
  isClosing: () => boolean
}

/**
 * Client addresses the rate limiter keeps counters for, per source (least recently seen forgotten first;
 * an entry is a few hundred bytes). Each source has its own store, and unknown sources are refused
 * before any is touched, so only real clients of that source compete for its entries.
 */
const RATE_LIMIT_CLIENTS_PER_SOURCE = 20_000

export async function hookRoutes(app: FastifyInstance, opts: HookRouteOptions): Promise<void> {
  const { config, ingest, metrics } = opts
  // Refusals before a source reads the request can come by the thousand: counted each, logged in summaries.
  const refusals = createRefusalLog({ counter: metrics.refusedRequests, log: app.log })
  app.addHook('onClose', async () => refusals.close())
  const bodyLimit = Math.max(262_144, ...config.sources.map((s) => s.bodyLimit))
  // One limiter (and store) per source, keyed by client address (IPv6 by /64, the plugin's default).
  const limiters = new Map(
    config.rateLimit.max > 0
      ? config.sources.map((s) => [
          s.id,
          app.rateLimit({
            max: config.rateLimit.max,
            timeWindow: config.rateLimit.windowSeconds * 1000,
            cache: RATE_LIMIT_CLIENTS_PER_SOURCE,
          }),
        ])
      : [],
  )

  // Every content type is read as raw bytes: signatures are over the exact body.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body))

  // Refuse before the rate limiter keeps any state: closing, or an unknown source (names made up
  // by the thousand must not evict real clients' counters); then the source's own limiter.
  const admit = async (request: FastifyRequest<{ Params: HookParams }>, reply: FastifyReply) => {
    if (opts.isClosing()) throw new RelayError('ERR_SHUTTING_DOWN', 'shutting down', { retryAfter: 5 })
    const id = request.params.source
    if (ingest.source(id) === undefined) {
      // The id is the caller's text: never a label; one example, cut short, in the summary line,
      // as probing for sources is worth seeing.
      refusals.refused(UNKNOWN_SOURCE_LABEL, 'unknown_source', id.slice(0, 64))
      throw new RelayError('ERR_SOURCE_NOT_FOUND', 'no such source')
    }
    try {
      await limiters.get(id)?.call(app, request, reply)
    } catch (err) {
      if ((err as { statusCode?: unknown }).statusCode === 429) refusals.refused(id, 'rate_limited')
      throw err
    }
  }

  /** Counts and logs a known source's refusal (`admit` let only known sources through); `err` comes back to throw. */
  const refused = (request: FastifyRequest<{ Params: HookParams }>, err: unknown, message: string) => {
    if (isRelayError(err)) {
      const source = request.params.source
      metrics.hooks.inc({ source, status: String(err.status) })
      metrics.refusals.inc({ source, code: err.code })
      request.log.warn({ source, code: err.code, reason: err.message }, message)
    }
    return err
  }

  // The CloudEvents webhook abuse-protection preflight (Event Grid sources): 200 with the allow headers.
  app.options<{ Params: HookParams }>('/hooks/:source', { onRequest: admit }, async (request, reply) => {
    const sourceId = request.params.source
    try {
      const headers = await ingest.preflight(sourceId, request.headers, queryOf(request.url))
      metrics.hooks.inc({ source: sourceId, status: '200' })
      request.log.info({ source: sourceId, status: 200 }, 'hook preflight answered')
      return reply.code(200).headers(headers).send()
    } catch (err) {
      throw refused(request, err, 'hook preflight refused')
    }
  })

  app.post<{ Params: HookParams }>(
    '/hooks/:source',
    {
      bodyLimit,
      onRequest: admit,
      // The route reads up to the largest source's limit; each source's own limit is enforced here:
      // at once for a declared length, and while reading for a chunked body (no reading past it).
      preParsing: async (request, _reply, payload) => {
        // `admit` (onRequest) refused an unknown source already.
        const limit = ingest.source(request.params.source)!.config.bodyLimit
        if (Number(request.headers['content-length']) > limit) throw bodyTooLarge(limit)
        return limit < bodyLimit ? capped(payload, limit) : payload
      },
    },
    async (request, reply) => {
      const sourceId = request.params.source
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      request.log.trace(
        { source: sourceId, contentType: request.headers['content-type'], bytes: body.length },
        'hook received',
      )
      try {
        const answer = await ingest.receive(sourceId, request.headers, body, queryOf(request.url))
        metrics.hooks.inc({ source: sourceId, status: String(answer.status) })
        if (answer.status === 202) metrics.secretsAccepted.inc({ source: sourceId }, answer.secrets)
        for (const kind of answer.notices) {
          // A kind is a rule's fixed `notice` word or a verifier's configured type: a bounded label. A
          // redelivered notice is counted again: an event that queues nothing is not recorded.
          metrics.notices.inc({ source: sourceId, kind })
          request.log.info({ source: sourceId, event: answer.event, notice: kind }, 'provider notice')
        }
        request.log.info({ source: sourceId, event: answer.event, status: answer.status }, 'hook answered')
        return reply.code(answer.status).send(answer.body)
      } catch (err) {
        throw refused(request, err, 'hook refused')
      }
    },
  )
}
