// GET /.well-known/jwks.json: the public halves of the relay's decryption keys, for senders to encrypt to.
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.js'
import { publicEncryptionJwks } from '../verify/jwt-keys.js'

/** Every jwt source's `decryptionKeys`, in config order: list the newest first when rotating. */
export function relayEncryptionJwks(config: Config): { keys: Record<string, unknown>[] } {
  const inputs = config.sources.flatMap((s) =>
    s.verify?.type === 'jwt' ? (s.verify.decryptionKeys ?? []) : [],
  )
  return publicEncryptionJwks(inputs)
}

export async function jwksRoutes(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  // Computed once: the keys only change with the config, which needs a restart.
  const body = JSON.stringify(relayEncryptionJwks(opts.config))
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.type('application/jwk-set+json').header('cache-control', 'public, max-age=300').send(body),
  )
}
