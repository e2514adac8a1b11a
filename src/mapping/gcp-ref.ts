// Rule values that name a Google Secret Manager version (`gcpSecretManager`), rendered per payload.
import type { GcpValueRef } from '../config/schema.js'
import { type RefCompiler, unmappable } from './template.js'

const GCP_SECRET = /^projects\/[^/]+\/(?:locations\/[^/]+\/)?secrets\/[A-Za-z0-9_-]+$/
const GCP_VERSION_NAME =
  /^(projects\/[^/]+\/((?:locations\/[^/]+\/)?secrets\/[A-Za-z0-9_-]+))\/versions\/([^/]+)$/
const VERSION_NUMBER = /^[1-9][0-9]{0,18}$/

/**
 * A Secret Manager version. `version` may render as a number or as the version's full name (what a
 * version event's `data.name` holds): the name's secret is then the one read, and it must be the
 * secret `secret` names (the same id and location; the project may be its number or its id).
 */
export function gcpRef(
  c: RefCompiler,
  gcp: Omit<GcpValueRef, 'store'>,
  path: string,
): (payload: unknown) => GcpValueRef {
  const secret = c.template(gcp.secret, `${path}.secret`, (out) =>
    GCP_SECRET.test(out) ? undefined : 'the rendered secret is not projects/P/secrets/S',
  )
  const version = c.nonEmpty(gcp.version, `${path}.version`)
  const jsonKey = gcp.jsonKey === undefined ? undefined : c.nonEmpty(gcp.jsonKey, `${path}.jsonKey`)
  const alias = gcp.alias === undefined ? undefined : c.nonEmpty(gcp.alias, `${path}.alias`)
  return (payload) => {
    const ref: GcpValueRef = { store: 'gcp', ...gcpVersion(secret!(payload), version!(payload), path) }
    if (jsonKey) ref.jsonKey = jsonKey(payload)
    if (alias) ref.alias = alias(payload)
    return ref
  }
}

/** The secret and version number a rendered `secret` and `version` name (see `gcpRef`). */
function gcpVersion(secret: string, version: string, path: string): { secret: string; version: string } {
  const named = GCP_VERSION_NAME.exec(version)
  if (named !== null) {
    // `projects/<number>/…` and `projects/<id>/…` are the same secret: compare what follows the project.
    if (!secret.endsWith(`/${named[2]}`))
      throw unmappable(`${path}.version`, 'the version names another secret')
    secret = named[1]!
    version = named[3]!
  }
  if (!VERSION_NUMBER.test(version))
    throw unmappable(`${path}.version`, 'the rendered version is not a version number or a version name')
  return { secret, version }
}
