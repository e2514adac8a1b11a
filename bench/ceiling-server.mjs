// The ceiling: a bare Fastify server doing only the relay's HMAC-SHA256 check over the raw body, then 202.
import { createHmac, timingSafeEqual } from 'node:crypto'
import Fastify from 'fastify'

const { secret, header, prefix } = JSON.parse(process.argv[2])
const key = Buffer.from(secret, 'utf8')

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

app.post('/hooks/:source', async (request, reply) => {
  const value = request.headers[header]
  const given =
    typeof value === 'string' && value.startsWith(prefix)
      ? Buffer.from(value.slice(prefix.length), 'hex')
      : null
  const expected = createHmac('sha256', key)
    .update(/** @type {Buffer} */ (request.body))
    .digest()
  if (given === null || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return reply.code(401).send({ code: 'ERR_SIGNATURE_INVALID' })
  }
  return reply.code(202).send({ secrets: 1 })
})

const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.send({ type: 'listening', url })
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0))
})
