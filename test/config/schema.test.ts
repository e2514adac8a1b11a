// The schema's defaults: what an empty relay.yaml means, checked against README's table and the example.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type Env, parseConfigText } from '../../src/config/load.js'

/** config/'s own parse: the app's checks (keys, rules, verifiers) are test/load-config.test.ts's. */
const parseConfig = (text: string, env: Env) => parseConfigText(text, env, 'config', {})

/** README's configuration table as `dotted.key -> default text`, `undefined` where it says none (–). */
function documentedDefaults(): Map<string, string | undefined> {
  const lines = readFileSync('README.md', 'utf8').split('\n')
  const start = lines.indexOf('| key | default | meaning |')
  expect(start).toBeGreaterThan(0)
  const documented = new Map<string, string | undefined>()
  for (const line of lines.slice(start + 2)) {
    const row = /^\| (.+?) \| (.+?) \| /.exec(line)
    if (row === null) break
    const keys = [...(row[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '')
    const parent = (keys[0] ?? '').replace(/\.[^.]+$/, '')
    const names = keys.map((k) => (k.startsWith('.') ? parent + k : k))
    const none = (row[2] ?? '').startsWith('–')
    const values = none ? [] : [...(row[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1])
    if (!none) expect(values, line).toHaveLength(names.length)
    names.forEach((name, i) => {
      documented.set(name, values[i])
    })
  }
  return documented
}

/** Every leaf of a parsed config as `dotted.key -> value` (arrays are leaves). */
function leaves(value: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>()
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out.set(prefix, value)
  for (const [k, v] of Object.entries(value)) {
    for (const [path, leaf] of leaves(v, prefix === '' ? k : `${prefix}.${k}`)) out.set(path, leaf)
  }
  return out
}

const isUnset = (v: unknown) => v === undefined || v === '' || (Array.isArray(v) && v.length === 0)

describe('config defaults', () => {
  it('an empty config gets the defaults README documents, and no undocumented one', () => {
    const empty = parseConfig('', {})
    const documented = documentedDefaults()
    expect(documented.size).toBeGreaterThan(30)
    const actual = leaves(empty)
    for (const [key, text] of documented) {
      if (key === 'sources[]') continue
      const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], empty)
      if (text === undefined) expect(isUnset(value), key).toBe(true)
      else expect(String(value), key).toBe(text)
    }
    const undocumented = [...actual].filter(([k, v]) => !isUnset(v) && !documented.has(k)).map(([k]) => k)
    expect(undocumented).toEqual([])
  })

  it('the settings relay.example.yaml writes out are the defaults', () => {
    const empty = parseConfig('', {})
    const example = parseConfig(readFileSync('relay.example.yaml', 'utf8'), { RWX_ACCESS_TOKEN: 'tok' })
    expect({ ...example, rwx: { ...example.rwx, token: undefined }, sources: [] }).toEqual(empty)
  })

  it('a section given in part keeps the defaults of the rest', () => {
    const config = parseConfig(
      'server: { port: 9000, loadShedding: { maxRssBytes: 1 } }\ndelivery: { breaker: { threshold: 0 } }',
      {},
    )
    expect(config.server).toEqual({
      ...parseConfig('', {}).server,
      port: 9000,
      loadShedding: { ...parseConfig('', {}).server.loadShedding, maxRssBytes: 1 },
    })
    expect(config.delivery.breaker).toEqual({
      threshold: 0,
      probeMs: 1_000,
      probeMaxMs: 30_000,
      connectProbeMaxMs: 2_000,
    })
    expect(config.delivery.batchSize).toBe(100)
  })
})
