// Templates for names, descriptions and ids: literal text with `{{ /pointer | filter }}` holes, compiled once.
import { RelayError } from '../errors.js'
import { compilePointer, describePointer, PointerSyntaxError } from './pointer.js'

/** A template that cannot compile: unclosed `{{`, unknown filter, bad pointer. Quotes config text only. */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError'
}

/** Renders a compiled template against one payload; throws RelayError ERR_UNMAPPABLE. */
export type Template = (payload: unknown) => string

/**
 * The parts of the rule compiler a value reference needs (aws-ref, azure-ref, gcp-ref, vault-refs): it
 * records each problem and compiles templates whose output is checked when rendered.
 */
export interface RefCompiler {
  nonEmpty(text: string, path: string): Template | undefined
  template(text: string, path: string, check?: (out: string) => string | undefined): Template | undefined
}

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

/** Separates the alternatives of a fallback: `/a ?? /b ?? /c`. */
const FALLBACK = '??'

/**
 * The pointer one alternative names. The spaces around a bare pointer are padding, never part of it
 * (spaces inside it are: `/first name`); a JSON string (`"/ "`) is the pointer exactly. A bare pointer
 * that ends in `/` (an empty last key) with spaces after it is refused: RFC 6901 would read those spaces
 * as the key, the padding rule as nothing, so either reading could be the wrong value.
 * Throws PointerSyntaxError.
 */
function pointerOf(part: string): string {
  const pointer = part.trim()
  if (pointer.startsWith('"')) {
    let exact: unknown
    try {
      exact = JSON.parse(pointer)
    } catch {
      exact = undefined
    }
    if (typeof exact !== 'string') {
      throw new PointerSyntaxError(`invalid quoted pointer ${pointer}: must be one JSON string`)
    }
    return exact
  }
  if (pointer.endsWith('/') && /\s$/.test(part)) {
    throw new PointerSyntaxError(
      `ambiguous pointer ${JSON.stringify(pointer)} followed by a space: write it without the space for the key "" or quote it exactly (e.g. ${JSON.stringify(JSON.stringify(`${pointer} `))}) for a key of spaces`,
    )
  }
  return pointer
}

/**
 * Splits a hole's `text` on `??` into JSON Pointers (see pointerOf). With `exact`, a text without `??`
 * is one pointer as it is (a `when` key). Throws PointerSyntaxError for an empty alternative (`/a ??`),
 * an ambiguous or bad pointer.
 */
function alternatives(text: string, exact = false): string[] {
  if (!text.includes(FALLBACK)) return [exact ? text : pointerOf(text)]
  return text.split(FALLBACK).map((part) => {
    if (part.trim() === '') {
      throw new PointerSyntaxError(`empty pointer beside "??" in ${JSON.stringify(text.trim())}`)
    }
    return pointerOf(part)
  })
}

/**
 * Compiles a pointer, or a fallback `/a ?? /b ?? /c`, into a reader with the semantics of `??`: the
 * value at the first pointer that is present (neither missing nor null), else the last one's value.
 * Used for `when` keys, so a rule can match a field that events carry in several places.
 * Throws PointerSyntaxError for bad syntax.
 */
export function compileFallback(text: string): (doc: unknown) => unknown {
  const readers = alternatives(text, true).map(compilePointer)
  if (readers.length === 1) return readers[0]!
  return (doc) => {
    let value: unknown
    for (const read of readers) {
      value = read(doc)
      if (value !== undefined && value !== null) return value
    }
    return value
  }
}

/** What a hole read: the value, and the pointer it came from (for errors). */
interface Read {
  value: unknown
  label: string
}

/** Reads the first present value of the hole's pointers, or throws naming every pointer tried. */
function compileRead(expr: string, where: string | undefined): (payload: unknown) => Read {
  let readers: { read: (doc: unknown) => unknown; label: string }[]
  try {
    readers = alternatives(expr).map((p) => ({ read: compilePointer(p), label: describePointer(p) }))
  } catch (err) {
    if (err instanceof PointerSyntaxError) throw new TemplateSyntaxError(err.message)
    throw err
  }
  if (readers.length === 1) {
    const { read, label } = readers[0]!
    return (payload) => ({ value: read(payload), label })
  }
  return (payload) => {
    const tried: string[] = []
    for (const { read, label } of readers) {
      const value = read(payload)
      if (value !== undefined && value !== null) return { value, label }
      tried.push(`${label} is ${kindOf(value)}`)
    }
    // "/a is missing, /b is null and /c is missing": every pointer tried, never a value.
    throw unmappable(where, `${tried.slice(0, -1).join(', ')} and ${tried.at(-1)}`)
  }
}

function compileHole(expr: string, where: string | undefined): Template {
  // The pointer keeps its spaces for pointerOf to judge; filter names are trimmed.
  const [pointerText = '', ...filterNames] = expr.split('|')
  const read = compileRead(pointerText, where)
  const filters = filterNames
    .map((s) => s.trim())
    .map((name) => {
      if (name === '') throw new TemplateSyntaxError('empty filter after "|"')
      const f = FILTERS.get(name)
      if (f === undefined) {
        throw new TemplateSyntaxError(`unknown filter ${JSON.stringify(name)} (filters: upper, lower, slug)`)
      }
      return f
    })
  return (payload) => {
    const { value, label } = read(payload)
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
 * `{{ /a ?? /b ?? /c | filter }}` reads the first pointer that is present (neither missing nor null);
 * when none is, the error names every pointer tried.
 *
 * Pointers inside `{{ }}` cannot contain `|`, `??` or `}}`. Spaces around a pointer are padding, spaces
 * inside it count; a JSON string (`{{ "/ " }}`) is a pointer exactly, and a bare pointer ending in `/`
 * followed by a space is refused as ambiguous.
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
