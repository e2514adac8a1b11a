// Files only the relay's user may read: the SQLite queue's directory (0700), database and key (0600).
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Creates `dir` and any missing parent as 0700, whatever the umask. A directory that exists already
 * keeps its mode: an operator may have opened it on purpose, and the files in it are 0600 anyway.
 */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (first === undefined) return
  // mkdirSync's mode goes through the umask; chmod sets it exactly, on each directory made just now
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, 0o700)
    if (d === first || dirname(d) === d) break
  }
}

/**
 * Creates `path` empty with mode 0600 (an empty file is a valid SQLite database) unless it exists.
 * SQLite gives the WAL and shared-memory files it makes the mode of their database, so they are 0600 too.
 */
export function makePrivateFile(path: string): void {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    throw err
  }
  try {
    fchmodSync(fd, 0o600)
  } finally {
    closeSync(fd)
  }
}

/** Those of `paths` that exist and that group or other users may read or write. */
export function openToOthers(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    try {
      return (statSync(p).mode & 0o077) !== 0
    } catch {
      return false
    }
  })
}
