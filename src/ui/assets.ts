// The console's stylesheet, read once from the shipped assets/ folder and served with a long cache.
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

/** assets/ at the package root: two levels above this module in src/ui/ and in dist/ui/ alike. */
const ASSETS = new URL('../../assets/', import.meta.url)

/** Serves the known assets only (no file system lookup per request, so no path to traverse). */
export function assetRoutes(app: FastifyInstance): void {
  const css = readFileSync(new URL('console.css', ASSETS))
  app.get('/assets/console.css', { config: { ui: 'public' } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(css),
  )
}
