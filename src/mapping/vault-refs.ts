// Rule values that name a Vault or OpenBao secret (`vaultKv`, `vaultDatabase`), rendered per payload.
import type { SecretRuleConfig, VaultDatabaseRef, VaultKvRef } from '../config/schema.js'
import type { RefCompiler } from './template.js'

type RuleValue = Exclude<SecretRuleConfig['value'], string>
type KvValue = Extract<RuleValue, { vaultKv: unknown }>['vaultKv']
type DatabaseValue = Extract<RuleValue, { vaultDatabase: unknown }>['vaultDatabase']

const KV_VERSION = /^[1-9][0-9]{0,15}$/

/** A KV v2 reference: mount, path and key templated; the version a number or a template rendering one. */
export function vaultKvRef(c: RefCompiler, kv: KvValue, path: string): (payload: unknown) => VaultKvRef {
  const mount = c.nonEmpty(kv.mount, `${path}.mount`)
  const secretPath = c.nonEmpty(kv.path, `${path}.path`)
  const key = c.nonEmpty(kv.key, `${path}.key`)
  const version =
    typeof kv.version === 'number'
      ? () => String(kv.version)
      : kv.version === undefined
        ? undefined
        : c.template(kv.version, `${path}.version`, (out) =>
            KV_VERSION.test(out.trim())
              ? undefined
              : 'does not render a KV version (a positive whole number)',
          )
  return (payload) => {
    const ref: VaultKvRef = {
      store: 'vault',
      engine: 'kv',
      mount: mount!(payload),
      path: secretPath!(payload),
      key: key!(payload),
    }
    if (version) ref.version = Number(version(payload).trim())
    return ref
  }
}

/** A database static role's username or password (the current rotation; reconciliation pins one). */
export function vaultDatabaseRef(
  c: RefCompiler,
  db: DatabaseValue,
  path: string,
): (payload: unknown) => VaultDatabaseRef {
  const mount = c.nonEmpty(db.mount, `${path}.mount`)
  const role = c.nonEmpty(db.role, `${path}.role`)
  return (payload) => ({
    store: 'vault',
    engine: 'database',
    mount: mount!(payload),
    role: role!(payload),
    key: db.key,
  })
}
