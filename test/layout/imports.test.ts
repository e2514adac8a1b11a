// The layout's rules, held against src/'s own imports: no cycles, config/ a leaf, the two queue backends
// apart, and Fastify only at the edge (docs/architecture.md says why).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve('src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Every module a file imports (static, `export … from` and dynamic), as written. */
function specifiers(text: string): string[] {
  const found = text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
  )
  return [...found].map((m) => m[1] ?? m[2] ?? '')
}

/** src-relative path (without .ts) → the src-relative files it imports; and the packages it imports. */
const graph = new Map<string, { files: string[]; packages: string[] }>()
for (const file of sourceFiles(SRC)) {
  const from = relative(SRC, file).replace(/\.ts$/, '')
  const files: string[] = []
  const packages: string[] = []
  for (const spec of specifiers(readFileSync(file, 'utf8'))) {
    if (spec.startsWith('.')) files.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ''))
    else packages.push(spec)
  }
  graph.set(from, { files, packages })
}

/** A file's top-level folder of src/ (`queue` for queue/sqlite/leases), or `.` for src/'s root files. */
const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '.')

/** The cycles of a directed graph, each as one path that returns to its start (empty: none). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string) => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of edges.keys()) if (!state.has(node)) visit(node)
  return found
}

describe('src/ layout', () => {
  it('reads every file and resolves every relative import to a file of src/', () => {
    expect(graph.size).toBeGreaterThan(50)
    for (const [from, { files }] of graph)
      for (const to of files) expect(graph.has(to), `${from} imports ${to}, not a file of src/`).toBe(true)
  })

  it('has no import cycle between files', () => {
    const edges = new Map([...graph].map(([from, { files }]) => [from, new Set(files)]))
    expect(cycles(edges)).toEqual([])
  })

  it('has no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>()
    for (const [from, { files }] of graph) {
      const set = edges.get(folderOf(from)) ?? new Set()
      edges.set(folderOf(from), set)
      // src/'s root files wire the folders together; folders never import them back (checked below)
      for (const to of files)
        if (folderOf(to) !== folderOf(from) && folderOf(to) !== '.') set.add(folderOf(to))
    }
    expect(cycles(edges)).toEqual([])
  })

  it('keeps config/ a leaf: it imports only config/, node, zod and yaml', () => {
    for (const [from, { files, packages }] of graph) {
      if (!from.startsWith('config/')) continue
      expect(
        files.filter((to) => !to.startsWith('config/')),
        from,
      ).toEqual([])
      expect(
        packages.filter((p) => !p.startsWith('node:') && p !== 'zod' && p !== 'yaml'),
        from,
      ).toEqual([])
    }
  })

  it('keeps the queue backends apart: neither imports the other', () => {
    for (const [from, { files }] of graph) {
      if (from.startsWith('queue/sqlite/'))
        expect(
          files.filter((to) => to.startsWith('queue/postgres/')),
          from,
        ).toEqual([])
      if (from.startsWith('queue/postgres/'))
        expect(
          files.filter((to) => to.startsWith('queue/sqlite/')),
          from,
        ).toEqual([])
    }
  })

  it('opens a backend only in queue/open.ts: the rest of src/ sees the Store interface', () => {
    for (const [from, { files }] of graph) {
      if (from === 'queue/open' || from.startsWith('queue/sqlite/') || from.startsWith('queue/postgres/'))
        continue
      expect(
        files.filter((to) => /^queue\/(sqlite|postgres)\//.test(to)),
        from,
      ).toEqual([])
    }
  })

  it('keeps the domain free of Fastify: config, verify, mapping, receive, queue and delivery', () => {
    const domain = /^(config|verify|mapping|receive|queue|delivery)\//
    const users = [...graph].filter(([, { packages }]) =>
      packages.some((p) => p === 'fastify' || p.startsWith('@fastify/')),
    )
    expect(users.map(([from]) => from).filter((from) => domain.test(from))).toEqual([])
  })

  it('ships no test double: nothing in src/ imports tools/ or test/', () => {
    for (const [from, { files }] of graph)
      expect(
        files.filter((to) => to.startsWith('..')),
        from,
      ).toEqual([])
  })
})
