// RFC 6901 JSON Pointers over untrusted payloads: own data only, never anything an object inherits.

/** A pointer that is not valid RFC 6901 syntax. Its message quotes the pointer (config text, not data). */
export class PointerSyntaxError extends Error {
  override readonly name = 'PointerSyntaxError'
}

const INDEX = /^(?:0|[1-9][0-9]*)$/

/**
 * Splits a JSON Pointer into its unescaped reference tokens. `''` is the whole document; anything else
 * must start with `/`. `~1` becomes `/` and `~0` becomes `~`; any other `~` is an error.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (pointer[0] !== '/') {
    throw new PointerSyntaxError(
      `invalid JSON Pointer ${JSON.stringify(pointer)}: must be empty or start with "/"`,
    )
  }
  if (/~(?![01])/.test(pointer)) {
    throw new PointerSyntaxError(
      `invalid JSON Pointer ${JSON.stringify(pointer)}: "~" must be followed by 0 or 1 (write "~0" for "~")`,
    )
  }
  return pointer
    .slice(1)
    .split('/')
    .map((t) => (t.includes('~') ? t.replace(/~[01]/g, (e) => (e === '~1' ? '/' : '~')) : t))
}

/** True for objects made by JSON.parse (or with no prototype): never arrays, class instances, buffers. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** One step: an own key of a plain object, or an in-range index of an array; else undefined. */
function step(node: unknown, token: string, index: number): unknown {
  if (Array.isArray(node)) return index >= 0 && index < node.length ? node[index] : undefined
  if (isPlainObject(node) && Object.hasOwn(node, token)) return node[token]
  return undefined
}

function indexOf(token: string): number {
  return INDEX.test(token) ? Number(token) : -1
}

/**
 * Resolves parsed tokens against `doc`. Walks only own properties of plain objects and decimal array
 * indices (no leading zeros, no `-`), so `__proto__`, `constructor` or `toString` that are not the
 * payload's own keys are missing. Returns undefined when anything along the way is missing.
 */
export function getAt(doc: unknown, tokens: readonly string[]): unknown {
  let node = doc
  for (const token of tokens) {
    node = step(node, token, indexOf(token))
    if (node === undefined) return undefined
  }
  return node
}

/**
 * Parses `pointer` once and returns a reader for the hot path (array indices are pre-parsed).
 * Throws PointerSyntaxError for bad syntax.
 */
export function compilePointer(pointer: string): (doc: unknown) => unknown {
  const tokens = parsePointer(pointer)
  const indices = tokens.map(indexOf)
  if (tokens.length === 1) {
    const [token] = tokens as [string]
    const index = indices[0]!
    return (doc) => step(doc, token, index)
  }
  return (doc) => {
    let node = doc
    for (let i = 0; i < tokens.length; i++) {
      node = step(node, tokens[i]!, indices[i]!)
      if (node === undefined) return undefined
    }
    return node
  }
}

/** How errors name a pointer: the pointer text, or a phrase for the whole document. */
export function describePointer(pointer: string): string {
  return pointer === '' ? 'the payload root ("")' : pointer
}
