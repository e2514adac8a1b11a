// `npm start`'s build step: runs tsc only when src/ or the build's settings changed since the last build.

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** What the build reads besides src/: a change to any of them means dist/ may be stale. */
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']

/** Written after a successful build: the fingerprint of the inputs it was built from. */
export const STAMP = join('dist', '.build-stamp')

/**
 * A fingerprint of the build's inputs under `root`: every path under src/ (directories too, so an added
 * or deleted file counts) and the settings files, with their size and mtime. Stats only, no reading:
 * a few milliseconds for the whole tree. Any change of an mtime, older or newer, changes it.
 */
export function inputsFingerprint(root) {
  const lines = []
  const walk = (rel) => {
    const st = statSync(join(root, rel))
    lines.push(`${rel}\0${st.size}\0${st.mtimeMs}`)
    if (!st.isDirectory()) return
    for (const name of readdirSync(join(root, rel)).sort()) walk(join(rel, name))
  }
  walk('src')
  for (const file of SETTINGS) {
    if (existsSync(join(root, file))) walk(file)
  }
  return createHash('sha256').update(lines.join('\n')).digest('hex')
}

/** True when dist/ was built from exactly the inputs under `root` as they are now. */
export function isCurrent(root) {
  const stamp = join(root, STAMP)
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', 'cli.js'))) return false
  return readFileSync(stamp, 'utf8').trim() === inputsFingerprint(root)
}

/**
 * Builds dist/ under `root` with tsc (`tsconfig.build.json`, incremental) unless it is current; returns
 * tsc's exit code, 0 when nothing had to be built. The fingerprint is taken before tsc runs, so a file
 * edited during the build makes the next start build again.
 */
export function buildIfStale(root) {
  if (isCurrent(root)) return 0
  const before = inputsFingerprint(root)
  process.stderr.write('dist/ is not current: building it (tsc -p tsconfig.build.json)\n')
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
  const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  if (run.status !== 0) return run.status ?? 1
  writeFileSync(join(root, STAMP), `${before}\n`)
  return 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = buildIfStale(process.cwd())
