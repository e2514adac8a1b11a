// What the docs tell users about their providers matches the providers: EventBridge's header, Stripe's event types, GitHub's content type.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type Harness, startHarness } from '../support/app-harness.js'

/** A source as the docs write it (only what these checks read). */
interface DocSource {
  id: string
  verify: { type: string; header?: string }
  rules?: { when?: Record<string, unknown> }[]
}

/** Every source (a mapping with `id` and `verify`) in README.md's, docs/*.md's YAML blocks and relay.example.yaml. */
function documentedSources(): { where: string; source: DocSource }[] {
  const out: { where: string; source: DocSource }[] = []
  const visit = (where: string, node: unknown) => {
    if (Array.isArray(node)) for (const n of node) visit(where, n)
    else if (node !== null && typeof node === 'object') {
      if ('id' in node && 'verify' in node) out.push({ where, source: node as DocSource })
      else for (const v of Object.values(node)) visit(where, v)
    }
  }
  const files = ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'))
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^```yaml\n([\s\S]*?)^```/gm))
      visit(file, parse(m[1] ?? ''))
  }
  visit('relay.example.yaml', parse(readFileSync('relay.example.yaml', 'utf8')))
  return out
}

/** Stripe's event types, as stripe-node (a dev dependency) lists them in `Stripe.Event.Type`. */
function stripeEventTypes(): Set<string> {
  const dts = readFileSync('node_modules/stripe/esm/resources/Events.d.ts', 'utf8')
  const union = /\btype Type = ([^;]+);/.exec(dts)?.[1] ?? ''
  const types = new Set([...union.matchAll(/'([a-z0-9_.]+)'/g)].map((m) => m[1] ?? ''))
  expect(types.size).toBeGreaterThan(100)
  return types
}

describe('provider facts in the docs', () => {
  it("README's EventBridge api-key source reads the header deploy/aws's connection sends", () => {
    const template = readFileSync('deploy/aws/eventbridge-api-destination.yaml', 'utf8')
    const header = /ApiKeyName: (\S+)/.exec(template)?.[1]
    expect(header).toBeDefined()
    const sources = documentedSources().filter(
      (s) =>
        s.where === 'README.md' && /eventbridge/i.test(s.source.id) && s.source.verify.type === 'api-key',
    )
    expect(sources.length).toBeGreaterThan(0)
    for (const s of sources) expect(s.source.verify.header).toBe(header)
  })

  it('every Stripe rule matches real Stripe event types', () => {
    const types = stripeEventTypes()
    const rules = documentedSources()
      .filter((s) => s.source.verify.type === 'stripe')
      .flatMap((s) => (s.source.rules ?? []).map((r) => ({ ...s, r })))
    expect(rules.some((x) => x.where === 'README.md')).toBe(true)
    for (const { where, r } of rules) {
      const wanted = [r.when?.['/type'] ?? []].flat()
      expect(wanted.length, where).toBeGreaterThan(0)
      for (const t of wanted) expect(types.has(String(t)), `${where}: ${t}`).toBe(true)
    }
  })

  it('README says which Stripe events a relay would use, and that none carries a credential', () => {
    const readme = readFileSync('README.md', 'utf8')
    expect(readme).toMatch(/\*\*Which Stripe events\?\*\* None carries a credential/)
  })

  it('README tells GitHub users to choose application/json, as form deliveries get 400', () => {
    const readme = readFileSync('README.md', 'utf8')
    const github = /^# GitHub-style HMAC[\s\S]*?^- id:/m.exec(readme)?.[0] ?? ''
    expect(github).toMatch(/application\/json/)
    expect(github).toMatch(/x-www-form-urlencoded/)
    expect(github).toMatch(/400/)
  })
})

describe('a GitHub delivery with the form content type', () => {
  let h: Harness
  it('is answered 400 although its signature is good', async () => {
    const { createHmac } = await import('node:crypto')
    h = await startHarness(`
sources:
  - id: github
    verify: { type: hmac, header: x-hub-signature-256, prefix: "sha256=", secrets: [gh-secret] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`)
    try {
      const body = `payload=${encodeURIComponent(JSON.stringify({ name: 'TOKEN', value: 'v' }))}`
      const res = await h.app.inject({
        method: 'POST',
        url: '/hooks/github',
        payload: body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-hub-signature-256': `sha256=${createHmac('sha256', 'gh-secret').update(body).digest('hex')}`,
        },
      })
      expect(res.statusCode).toBe(400)
    } finally {
      await h.close()
    }
  })
})
