// `npm start`'s build step: a fresh checkout builds, a current dist/ starts without tsc, any change builds again.
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const SCRIPT = resolve('tools/build-if-stale.mjs')
const BUILDING = 'dist/ is not current: building it'
const dir = mkdtempSync(join(tmpdir(), 'relay-build-if-stale-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the build step in the copy, as `npm start` does (its cwd is the package root). */
function start(): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [SCRIPT], { cwd: dir, encoding: 'utf8', timeout: 180_000 })
  return { status: run.status, stderr: run.stderr }
}

describe('tools/build-if-stale.mjs (npm start)', () => {
  it('builds a fresh checkout, then skips tsc until an input changes', { timeout: 600_000 }, () => {
    // A fresh clone: sources and settings, dependencies installed, no dist/.
    for (const f of ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'])
      cpSync(f, join(dir, f), { recursive: true })
    symlinkSync(resolve('node_modules'), join(dir, 'node_modules'))

    const first = start()
    expect(first.status, first.stderr).toBe(0)
    expect(first.stderr).toContain(BUILDING)
    expect(existsSync(join(dir, 'dist', 'cli.js'))).toBe(true)
    const stamp = readFileSync(join(dir, 'dist', '.build-stamp'), 'utf8')

    const again = start()
    expect(again).toEqual({ status: 0, stderr: '' })

    // An mtime moved back (a file restored from a backup) counts as a change too.
    utimesSync(join(dir, 'src', 'version.ts'), new Date(2000, 0, 1), new Date(2000, 0, 1))
    const touched = start()
    expect(touched.status, touched.stderr).toBe(0)
    expect(touched.stderr).toContain(BUILDING)
    expect(start()).toEqual({ status: 0, stderr: '' })
    const built = readFileSync(join(dir, 'dist', '.build-stamp'), 'utf8')
    expect(built).not.toBe(stamp)

    // A new file that does not compile: the start fails, nothing is stamped, the next start tries again.
    writeFileSync(join(dir, 'src', 'broken.ts'), 'export const n: number = "not a number"\n')
    const broken = start()
    expect(broken.status).not.toBe(0)
    expect(broken.stderr).toContain(BUILDING)
    expect(readFileSync(join(dir, 'dist', '.build-stamp'), 'utf8')).toBe(built)
  })
})
