// Turns zod issues into the `path: message` lines a config error lists.
import type { z } from 'zod'

/** Formats a path like `sources[1].verify.secrets`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out === '' ? '(root)' : out
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let cur = doc
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key as string)) return undefined
    cur = (cur as Record<PropertyKey, unknown>)[key]
  }
  return cur
}

/**
 * One line per issue. Zod's messages describe types, never input values, so nothing secret is
 * echoed; a missing field reads `required`.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const path = formatPath(issue.path)
    if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${path}: required`
    if (issue.code === 'unrecognized_keys') return `${path}: unknown key ${issue.keys.join(', ')}`
    if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator !== undefined) {
      return `${path}.${issue.discriminator}: must be one of the known types`
    }
    return `${path}: ${issue.message}`
  })
}
