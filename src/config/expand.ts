// ${VAR} and ${VAR:-default} expansion in every string of a parsed YAML document.

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g

/** A reference to an unset variable without a default, found at `path`. */
export interface ExpandProblem {
  path: string
  message: string
}

export interface ExpandOptions {
  /**
   * The lists (by path, e.g. `sources[0].verify.secrets`) whose entries a default left empty are dropped:
   * `["${NEW}", "${OLD:-}"]` with OLD unset is one secret, not an empty one. A literal `""` is kept.
   */
  dropEmptyIn?: (path: string) => boolean
}

/**
 * Returns a copy of `doc` with variables expanded in every string. An unset variable without a
 * default is reported (by name and path, never by value) and left as an empty string.
 * `$${` escapes a literal `${`.
 */
export function expandEnv(
  doc: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problems: ExpandProblem[],
  path = '',
  options: ExpandOptions = {},
): unknown {
  if (typeof doc === 'string') return expandString(doc, env, problems, path)
  if (Array.isArray(doc)) {
    const drop = options.dropEmptyIn?.(path) === true
    const out: unknown[] = []
    for (const [i, v] of doc.entries()) {
      const before = problems.length
      const expanded = expandEnv(v, env, problems, `${path}[${i}]`, options)
      // Only text that a `${VAR:-}` emptied: a literal "" stays for the schema to refuse, and an unset
      // `${VAR}` stays where its problem points.
      const emptied = expanded === '' && typeof v === 'string' && v !== '' && problems.length === before
      if (drop && emptied) continue
      out.push(expanded)
    }
    return out
  }
  if (doc !== null && typeof doc === 'object') {
    // fromEntries defines keys: a YAML key `__proto__` stays a key instead of setting the prototype.
    return Object.fromEntries(
      Object.entries(doc).map(([k, v]) => [
        k,
        expandEnv(v, env, problems, path === '' ? k : `${path}.${k}`, options),
      ]),
    )
  }
  return doc
}

function expandString(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  problems: ExpandProblem[],
  path: string,
): string {
  if (!text.includes('${')) return text
  const parts = text.split('$${')
  return parts
    .map((part) =>
      part.replace(
        PATTERN,
        (_m, name: string, hasDefault: string | undefined, fallback: string | undefined) => {
          // Own keys only: `${toString}` is an unset variable, not Object.prototype's function.
          const value = Object.hasOwn(env, name) ? env[name] : undefined
          if (value !== undefined && (value !== '' || hasDefault === undefined)) return value
          if (hasDefault !== undefined) return fallback ?? ''
          problems.push({ path, message: `environment variable ${name} is not set` })
          return ''
        },
      ),
    )
    .join('${')
}
