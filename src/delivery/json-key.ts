// A secret's text as the value to deliver: the whole text, or one top-level field of a JSON object.
import type { Resolved } from './values.js'

/** The value, or dead when it is empty (RWX would hold nothing). */
export function nonEmptyValue(value: string): Resolved {
  return value === '' ? { kind: 'dead', error: 'the secret value is empty' } : { kind: 'value', value }
}

/**
 * `text` itself, or with `jsonKey` the field of that name in the JSON object `text` holds (a string as
 * it is, any other JSON value as its JSON text). Errors name the key and what is wrong, never a value.
 */
export function valueFromText(text: string, jsonKey: string | undefined): Resolved {
  if (jsonKey === undefined) return nonEmptyValue(text)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return { kind: 'dead', error: 'jsonKey is set but the secret is not JSON' }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { kind: 'dead', error: 'jsonKey is set but the secret is not a JSON object' }
  }
  if (!Object.hasOwn(doc, jsonKey))
    return { kind: 'dead', error: `jsonKey "${jsonKey}" is not in the secret` }
  const field = (doc as Record<string, unknown>)[jsonKey]
  if (field === null) return { kind: 'dead', error: `jsonKey "${jsonKey}" is null in the secret` }
  return nonEmptyValue(typeof field === 'string' ? field : JSON.stringify(field))
}
