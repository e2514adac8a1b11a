// The built dist/ runs with production dependencies only: every package it imports is a dependency.
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>
  files: string[]
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  )
}

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(spec: string): string {
  const parts = spec.split('/')
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? spec)
}

describe('dist/', () => {
  it('imports only node built-ins and production dependencies', () => {
    const files = jsFiles('dist')
    expect(files).toContain(join('dist', 'cli.js'))
    const imported = new Set<string>()
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
        const spec = m[1]!
        if (spec.startsWith('.') || spec.startsWith('node:')) continue
        imported.add(packageOf(spec))
      }
    }
    const missing = [...imported].filter((p) => !builtinModules.includes(p) && !(p in pkg.dependencies))
    expect(missing).toEqual([])
    expect(imported.has('fastify')).toBe(true)
  })

  it('holds no test double or demo script: the fake RWX and the demo live in tools/', () => {
    const files = jsFiles('dist')
    expect(files.filter((f) => /fake-rwx|[\\/]demo[\\/]/.test(f))).toEqual([])
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain('startFakeRwx')
    expect(pkg.files.filter((f) => f.includes('tools'))).toEqual([])
  })

  it('starts with a shebang so npx vault-relay runs it', () => {
    expect(readFileSync(join('dist', 'cli.js'), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true)
  })
})
