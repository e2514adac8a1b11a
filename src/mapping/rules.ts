// A source's rules compiled once: which rules an event matches and the vault secrets they produce.
import type { SecretRuleConfig, SourceConfig, ValueRef } from '../config/schema.js'
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../config/schema.js'
import { awsRef } from './aws-ref.js'
import { azureRef } from './azure-ref.js'
import { gcpRef } from './gcp-ref.js'
import { compilePointer, describePointer, PointerSyntaxError } from './pointer.js'
import type { RefCompiler, Template } from './template.js'
import {
  compileFallback,
  compileTemplate,
  isStatic,
  kindOf,
  TemplateSyntaxError,
  unmappable,
} from './template.js'
import { vaultDatabaseRef, vaultKvRef } from './vault-refs.js'

/** One secret an event asks to set: its value from the payload, or a reference resolved at delivery. */
export type MappedSecret =
  | { vault: string; name: string; description?: string; value: string }
  | { vault: string; name: string; description?: string; ref: ValueRef }

/** A config problem; `path` is relative to the source, e.g. `rules[0].secrets[1].name`. */
export interface MappingProblem {
  path: string
  message: string
}

/** Every problem found in a source's rules, eventId and eventTime (not just the first). */
export class MappingConfigError extends Error {
  override readonly name = 'MappingConfigError'
  readonly problems: readonly MappingProblem[]

  constructor(problems: readonly MappingProblem[]) {
    super(`invalid mapping: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`)
    this.problems = problems
  }
}

/** A source's compiled mapping. Every function throws RelayError ERR_UNMAPPABLE and never quotes a value. */
export interface CompiledRules {
  /** The secrets of every matching rule, in rule order; [] when none matches. */
  map(payload: unknown): MappedSecret[]
  /**
   * Like `map`, with the rule that produced each secret (`rules[0].secrets[1]`), for provenance, and the
   * `notice` of every matching rule that has one (counted and logged, never queued).
   */
  mapWithRules(payload: unknown): { secrets: MappedSecret[]; rules: string[]; notices: string[] }
  /** The source's `eventId` template; absent when not configured (the verifier's default applies). */
  eventId?: (payload: unknown) => string
  /** The source's `eventTime` in epoch ms; absent when not configured. Configured but unreadable throws. */
  eventTime?: (payload: unknown) => number
}

type Read = (payload: unknown) => unknown
type Matcher = (payload: unknown) => boolean
type Render = (payload: unknown) => MappedSecret
type Scalar = string | number | boolean | null

const PATTERN = NAME_PATTERN.source
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'

/** Collects problems while compiling, so one pass reports all of them. */
class Compiler implements RefCompiler {
  readonly problems: MappingProblem[] = []

  problem(path: string, message: string): undefined {
    this.problems.push({ path, message })
    return undefined
  }

  pointer(pointer: string, path: string, compile = compilePointer): Read | undefined {
    try {
      return compile(pointer)
    } catch (err) {
      if (err instanceof PointerSyntaxError) return this.problem(path, err.message)
      throw err
    }
  }

  /** A template; with `check`, its output is also validated at render time. */
  template(text: string, path: string, check?: (out: string) => string | undefined): Template | undefined {
    let render: Template
    try {
      render = compileTemplate(text, path)
    } catch (err) {
      if (err instanceof TemplateSyntaxError) return this.problem(path, err.message)
      throw err
    }
    if (check === undefined) return render
    return (payload) => {
      const out = render(payload)
      const why = check(out)
      if (why !== undefined) throw unmappable(path, why)
      return out
    }
  }

  /** A vault or secret name: checked now when static, after rendering when templated. */
  name(text: string, path: string, field: 'vault' | 'name'): Template | undefined {
    const tooLong = `is longer than ${NAME_MAX_LENGTH} characters`
    if (!isStatic(text)) {
      return this.template(text, path, (out) => {
        if (out.length > NAME_MAX_LENGTH) return `the rendered ${field} ${tooLong}`
        return NAME_PATTERN.test(out) ? undefined : `the rendered ${field} does not match ${PATTERN}`
      })
    }
    if (text.length > NAME_MAX_LENGTH) return this.problem(path, `${field} ${tooLong}`)
    if (NAME_PATTERN.test(text)) return () => text
    return this.problem(path, `${field} ${JSON.stringify(text)} must match ${PATTERN}`)
  }

  nonEmpty(text: string, path: string): Template | undefined {
    return this.template(text, path, (out) => (out === '' ? 'renders empty' : undefined))
  }

  /**
   * All keys must match; a list matches any of its scalars (strict equality, no type coercion).
   * A key may be a fallback, `/a ?? /b`: the first of its pointers that is present is compared.
   */
  when(when: Record<string, unknown>, path: string): Matcher {
    const tests: Matcher[] = []
    for (const [pointer, expected] of Object.entries(when)) {
      const at = `${path}.when[${JSON.stringify(pointer)}]`
      const read = this.pointer(pointer, at, compileFallback)
      if (Array.isArray(expected) && expected.length > 0 && expected.every(isScalar)) {
        const any = new Set<unknown>(expected)
        if (read) tests.push((p) => any.has(read(p)))
      } else if (isScalar(expected)) {
        if (read) tests.push((p) => read(p) === expected)
      } else {
        this.problem(at, 'must be a string, number, boolean, null or a non-empty list of them')
      }
    }
    return (payload) => {
      for (const test of tests) if (!test(payload)) return false
      return true
    }
  }

  secret(s: SecretRuleConfig, path: string): Render {
    const vault = this.name(s.vault, `${path}.vault`, 'vault')
    const name = this.name(s.name, `${path}.name`, 'name')
    const text = s.description
    const description = text === undefined ? undefined : this.template(text, `${path}.description`)
    // Renders only run once compileRules has found no problem, so every part above exists.
    if (typeof s.value === 'string') {
      const value = this.value(s.value, `${path}.value`)
      return (payload) => {
        const out: MappedSecret = { vault: vault!(payload), name: name!(payload), value: value!(payload) }
        if (description) out.description = description(payload)
        return out
      }
    }
    const ref = this.valueRef(s.value, `${path}.value`)
    return (payload) => {
      const out: MappedSecret = { vault: vault!(payload), name: name!(payload), ref: ref(payload) }
      if (description) out.description = description(payload)
      return out
    }
  }

  /** A JSON string as it is, any other JSON value as its JSON text; missing, null or '' is refused. */
  value(pointer: string, path: string): ((payload: unknown) => string) | undefined {
    const read = this.pointer(pointer, path)
    if (read === undefined) return undefined
    const label = describePointer(pointer)
    return (payload) => {
      const v = read(payload)
      if (typeof v === 'string' && v !== '') return v
      if (v !== undefined && v !== null && v !== '') return jsonText(v, path, label)
      throw unmappable(path, `${label} is ${v === '' ? 'an empty string' : kindOf(v)}`)
    }
  }

  /** A reference to the value in its store, with templates rendered per payload (one file per store). */
  valueRef(value: Exclude<SecretRuleConfig['value'], string>, path: string): (payload: unknown) => ValueRef {
    if ('gcpSecretManager' in value) return gcpRef(this, value.gcpSecretManager, `${path}.gcpSecretManager`)
    if ('azureKeyVault' in value) return azureRef(this, value.azureKeyVault, `${path}.azureKeyVault`)
    if ('vaultKv' in value) return vaultKvRef(this, value.vaultKv, `${path}.vaultKv`)
    if ('vaultDatabase' in value) return vaultDatabaseRef(this, value.vaultDatabase, `${path}.vaultDatabase`)
    return awsRef(this, value.awsSecretsManager, `${path}.awsSecretsManager`)
  }

  /** The event time in epoch ms: a number is epoch seconds, a string RFC 3339 (or decimal seconds). */
  eventTime(pointer: string): ((payload: unknown) => number) | undefined {
    const read = this.pointer(pointer, 'eventTime')
    if (read === undefined) return undefined
    const label = describePointer(pointer)
    return (payload) => {
      const v = read(payload)
      const ms = typeof v === 'number' ? secondsToMs(v) : typeof v === 'string' ? parseTime(v) : undefined
      if (ms !== undefined) return ms
      const why = v === undefined ? 'is missing' : `is ${kindOf(v)}, not epoch seconds or an RFC 3339 time`
      throw unmappable('eventTime', `${label} ${why}`)
    }
  }
}

/**
 * Compiles a source's mapping, or throws MappingConfigError listing every problem: bad pointers
 * (`when` keys, `value`, `eventTime`), templates that do not compile (names, descriptions, AWS fields,
 * `eventId`), static names that break NAME_PATTERN, `when` values that are not scalars or lists of
 * scalars, and a rule that names one static vault and secret twice.
 */
export function compileRules(source: SourceConfig): CompiledRules {
  const c = new Compiler()
  const rules = source.rules.map((rule, i) => {
    const seen = new Map<string, string>()
    const secrets = rule.secrets.map((s, j) => {
      const path = `rules[${i}].secrets[${j}]`
      if (isStatic(s.vault) && isStatic(s.name)) {
        const first = seen.get(`${s.vault}/${s.name}`)
        if (first) c.problem(path, `maps vault ${s.vault} name ${s.name} again (as ${first})`)
        else seen.set(`${s.vault}/${s.name}`, path)
      }
      return { path, render: c.secret(s, path) }
    })
    return { matches: c.when(rule.when, `rules[${i}]`), secrets, notice: rule.notice }
  })
  const eventId = source.eventId === undefined ? undefined : c.nonEmpty(source.eventId, 'eventId')
  const eventTime = source.eventTime === undefined ? undefined : c.eventTime(source.eventTime)
  if (c.problems.length > 0) throw new MappingConfigError(c.problems)

  const mapWithRules = (payload: unknown) => {
    const out: MappedSecret[] = []
    const from: string[] = []
    const notices: string[] = []
    for (const rule of rules) {
      if (!rule.matches(payload)) continue
      if (rule.notice !== undefined && !notices.includes(rule.notice)) notices.push(rule.notice)
      for (const s of rule.secrets) {
        out.push(s.render(payload))
        from.push(s.path)
      }
    }
    if (out.length > 1) assertUnique(out, from)
    return { secrets: out, rules: from, notices }
  }
  const compiled: CompiledRules = {
    map: (payload) => mapWithRules(payload).secrets,
    mapWithRules,
  }
  if (eventId) compiled.eventId = eventId
  if (eventTime) compiled.eventTime = eventTime
  return compiled
}

/**
 * A value's JSON text. JSON.parse takes nesting of any depth but JSON.stringify recurses, so a signed
 * payload nested a few hundred thousand levels deep overflows the stack: that is the payload's fault
 * (422), not the relay's (500).
 */
function jsonText(value: unknown, path: string, label: string): string {
  try {
    return JSON.stringify(value)
  } catch (err) {
    if (err instanceof RangeError) throw unmappable(path, `${label} is nested too deeply`)
    throw err
  }
}

/** Two values for one vault and name in one event cannot both be the newest: refuse the event. */
function assertUnique(secrets: readonly MappedSecret[], from: readonly string[]): void {
  const seen = new Map<string, string>()
  secrets.forEach((s, i) => {
    const key = `${s.vault}/${s.name}` // '/' cannot occur in a valid name
    const first = seen.get(key)
    if (first !== undefined) {
      throw unmappable(
        undefined,
        `rules map two values to vault ${s.vault} name ${s.name} (${first} and ${from[i]})`,
      )
    }
    seen.set(key, from[i]!)
  })
}

const MAX_MS = 8.64e15
const DECIMAL = /^[0-9]+(?:\.[0-9]+)?$/
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/

function secondsToMs(seconds: number): number | undefined {
  const ms = Math.round(seconds * 1000)
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_MS ? ms : undefined
}

/**
 * Epoch ms from RFC 3339 text (strictly: real dates, fields and offsets in range; a leap second counts as
 * :59), or from decimal epoch seconds written as a string; undefined for anything else.
 */
export function parseTime(text: string): number | undefined {
  if (DECIMAL.test(text)) return secondsToMs(Number(text))
  const m = RFC3339.exec(text)
  if (m === null) return undefined
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map(Number)
  const [oh, om] = [Number(m[9] ?? 0), Number(m[10] ?? 0)]
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31
  // Years 0-99 would be read by Date.UTC as 1900-1999; none is a plausible event time anyway.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > days) return undefined
  if (hour > 23 || minute > 59 || second > 60 || oh > 23 || om > 59) return undefined
  const offsetMinutes = (m[8] === '-' ? -1 : 1) * (oh * 60 + om)
  const ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59)) - offsetMinutes * 60_000
  return secondsToMs(ms / 1000 + (m[7] === undefined ? 0 : Number(`0${m[7]}`)))
}
