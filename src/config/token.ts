// The RWX token: from config or env, or from a file that is re-read when it changes (mounted secrets).
import { readFileSync, statSync } from 'node:fs'

/** Returns the current token; throws when none is configured or the file cannot be read. */
export type TokenSource = () => string

export function createTokenSource(rwx: {
  token?: string | undefined
  tokenFile?: string | undefined
}): TokenSource {
  if (rwx.tokenFile !== undefined && !rwx.token) {
    const file = rwx.tokenFile
    let cached = ''
    let stamp = ''
    return () => {
      const st = statSync(file)
      const now = `${st.mtimeMs}:${st.size}:${st.ino}`
      if (now !== stamp) {
        cached = readFileSync(file, 'utf8').trim()
        stamp = now
      }
      if (cached === '') throw new Error(`rwx.tokenFile ${file} is empty`)
      return cached
    }
  }
  const token = rwx.token ?? ''
  return () => {
    if (token === '') throw new Error('no RWX token: set RWX_ACCESS_TOKEN or rwx.token / rwx.tokenFile')
    return token
  }
}
