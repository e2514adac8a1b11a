// Templates for names, descriptions and ids: literal text with `{{ /pointer | filter }}` holes, compiled once.
import { RelayError } from '../errors.js'
import { compilePointer, describePointer, PointerSyntaxError } from './pointer.js'

/** A template that cannot compile: unclosed `{{`, unknown filter, bad pointer. Quotes config text only. */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError'
}

/** Renders a compiled template against one payload; throws RelayError ERR_UNMAPPABLE. */
export type Template = (payload: unknown) => string

const NON_ASCII = /[\u0080-\uffff]/
const MARKS = /\p{M}+/gu
const SLUG_RUNS = /[^a-z0-9_]+/g
const SLUG_EDGES = /^-+|-+$/g

/**
 * `slug`: lower case, accents dropped (`Café` → `cafe`), every run of characters outside `[a-z0-9_]`
 * becomes one `-`, and leading or trailing `-` are trimmed. `_` is kept because RWX names allow it and
 * secret names often use it (`db_password`); the result always fits NAME_PATTERN unless it is empty.
 */
export function slug(text: string): string {
  let s = text.toLowerCase()
  // Decomposing is the costly step, and plain ASCII has nothing to decompose.
  if (NON_ASCII.test(s)) s = s.normalize('NFKD').replace(MARKS, '')
  return s.replace(SLUG_RUNS, '-').replace(SLUG_EDGES, '')
}

const FILTERS: ReadonlyMap<string, (s: string) => string> = new Map([
  ['upper', (s: string) => s.toUpperCase()],
  ['lower', (s: string) => s.toLowerCase()],
  ['slug', slug],
])

/** The ERR_UNMAPPABLE error for a render failure; `message` must name pointers and fields, never values. */
export function unmappable(where: string | undefined, message: string): RelayError {
  return new RelayError('ERR_UNMAPPABLE', where === undefined ? message : `${where}: ${message}`)
}

/** What a payload value is, in words an error may show (never the value itself). */
export function kindOf(value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** True when `text` has no `{{` and so renders to itself. */
export function isStatic(text: string): boolean {
  return !text.includes('{{')
}

function compileHole(expr: string, where: string | undefined): Template {
  const [pointerText = '', ...filterNames] = expr.split('|').map((s) => s.trim())
  let read: (doc: unknown) => unknown
  try {
    read = compilePointer(pointerText)
  } catch (err) {
    if (err instanceof PointerSyntaxError) throw new TemplateSyntaxError(err.message)
    throw err
  }
  const filters = filterNames.map((name) => {
    if (name === '') throw new TemplateSyntaxError('empty filter after "|"')
    const f = FILTERS.get(name)
    if (f === undefined) {
      throw new TemplateSyntaxError(`unknown filter ${JSON.stringify(name)} (filters: upper, lower, slug)`)
    }
    return f
  })
  const label = describePointer(pointerText)
  return (payload) => {
    const value = read(payload)
    let text: string
    if (typeof value === 'string') text = value
    else if (typeof value === 'number' || typeof value === 'boolean') text = String(value)
    else {
      const kind = kindOf(value)
      throw unmappable(
        where,
        `${label} is ${kind}${kind === 'missing' ? '' : ', not a string, number or boolean'}`,
      )
    }
    for (const f of filters) text = f(text)
    return text
  }
}

/**
 * Compiles `text` once. Each `{{ pointer | filter | ... }}` is replaced by the payload's scalar at that
 * JSON Pointer (strings as they are, numbers and booleans as their JSON text), passed through the filters
 * left to right. `where` (e.g. `rules[0].secrets[1].name`) prefixes render errors.
 *
 * Pointers inside `{{ }}` cannot contain `|` or `}}`, and surrounding spaces are trimmed.
 * Throws TemplateSyntaxError for an unclosed or nested `{{`, a bad pointer or an unknown filter.
 * The returned function throws RelayError ERR_UNMAPPABLE, naming the pointer, when a value is missing,
 * null, an object or a list.
 */
export function compileTemplate(text: string, where?: string): Template {
  if (isStatic(text)) return () => text
  const parts: (string | Template)[] = []
  let pos = 0
  for (let open = text.indexOf('{{'); open !== -1; open = text.indexOf('{{', pos)) {
    const close = text.indexOf('}}', open + 2)
    if (close === -1) throw new TemplateSyntaxError(`unclosed "{{" at character ${open + 1}`)
    const expr = text.slice(open + 2, close)
    if (expr.includes('{{')) throw new TemplateSyntaxError(`nested "{{" at character ${open + 1}`)
    if (open > pos) parts.push(text.slice(pos, open))
    parts.push(compileHole(expr, where))
    pos = close + 2
  }
  if (pos < text.length) parts.push(text.slice(pos))
  if (parts.length === 1 && typeof parts[0] === 'function') return parts[0]
  return (payload) => {
    let out = ''
    for (const part of parts) out += typeof part === 'string' ? part : part(payload)
    return out
  }
}
