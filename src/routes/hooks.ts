// POST /hooks/{source}: raw body in, the ingest service's answer out.
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.js'
import { isRelayError, RelayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { bodyTooLarge, type Ingest } from '../receive/ingest.js'

interface HookParams {
  source: string
}

export interface HookRouteOptions {
  config: Config
  ingest: Ingest
  metrics: Metrics
  isClosing: () => boolean
}

export async function hookRoutes(app: FastifyInstance, opts: HookRouteOptions): Promise<void> {
  const { config, ingest, metrics } = opts
  const bodyLimit = Math.max(262_144, ...config.sources.map((s) => s.bodyLimit))
  const rateLimit =
    config.rateLimit.max > 0
      ? {
          max: config.rateLimit.max,
          timeWindow: config.rateLimit.windowSeconds * 1000,
          keyGenerator: (req: { params: unknown; ip: string }) =>
            `${(req.params as HookParams).source}|${req.ip}`,
        }
      : false

  // Every content type is read as raw bytes: signatures are over the exact body.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body))

  app.post<{ Params: HookParams }>(
    '/hooks/:source',
    {
      bodyLimit,
      config: { rateLimit },
      // Refuse before reading the body: unknown source, closing, or a declared length over the limit.
      preParsing: async (request) => {
        if (opts.isClosing()) throw new RelayError('ERR_SHUTTING_DOWN', 'shutting down', { retryAfter: 5 })
        const source = ingest.source(request.params.source)
        if (source === undefined) {
          // The id is the caller's text: logged cut short, as probing for sources is worth seeing.
          request.log.warn(
            { source: request.params.source.slice(0, 64), code: 'ERR_SOURCE_NOT_FOUND' },
            'hook refused: unknown source',
          )
          throw new RelayError('ERR_SOURCE_NOT_FOUND', 'no such source')
        }
        const declared = Number(request.headers['content-length'])
        if (declared > source.config.bodyLimit) {
          throw bodyTooLarge(source.config.bodyLimit)
        }
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
        const answer = await ingest.receive(sourceId, request.headers, body)
        metrics.hooks.inc({ source: sourceId, status: String(answer.status) })
        if (answer.status === 202) metrics.secretsAccepted.inc({ source: sourceId }, answer.body.secrets)
        request.log.info(
          { source: sourceId, event: answer.body.event, status: answer.status },
          'hook answered',
        )
        return reply.code(answer.status).send(answer.body)
      } catch (err) {
        if (isRelayError(err) && ingest.source(sourceId) !== undefined) {
          metrics.hooks.inc({ source: sourceId, status: String(err.status) })
          metrics.refusals.inc({ source: sourceId, code: err.code })
          request.log.warn({ source: sourceId, code: err.code, reason: err.message }, 'hook refused')
        }
        throw err
      }
    },
  )
}
