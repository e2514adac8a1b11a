import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type Harness, startHarness } from '../support/app-harness.js'

interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
}

const spec = parse(readFileSync('openapi.yaml', 'utf8')) as OpenApi
const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
)

let h: Harness
beforeAll(async () => {
  h = await startHarness(`
admin: { token: adm }
sources:
  - { id: a, verify: { type: api-key, header: x-key, keys: [k] } }
`)
})
afterAll(async () => h.close())

describe('openapi.yaml', () => {
  it('documents exactly the routes the app serves', () => {
    // The console's pages (/ui, HTML for browsers) are not the API: docs/console.md describes them.
    const served = h.app.relayRoutes
      .filter((r) => !r.url.startsWith('/ui'))
      .map((r) => `${r.method} ${r.url}`)
    expect([...new Set(served)].sort()).toEqual([...documented].sort())
  })

  it('documents every status the hook route answers in the contract', () => {
    const statuses = Object.keys(spec.paths['/hooks/{source}']?.post?.responses ?? {})
    for (const s of ['200', '202', '400', '401', '404', '413', '422', '429', '503'])
      expect(statuses).toContain(s)
  })
})
