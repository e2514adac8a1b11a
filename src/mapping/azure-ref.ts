// Azure Key Vault references rendered per payload: the vault pinned, the name and version read from a secret id.
import type { AzureValueRef, SecretRuleConfig } from '../config/schema.js'
import type { RefCompiler, Template } from './template.js'
import { unmappable } from './template.js'

type AzureValue = Extract<
  Exclude<SecretRuleConfig['value'], string>,
  { azureKeyVault: unknown }
>['azureKeyVault']

/** The compiled templates of an `azureKeyVault` rule value (`id` or `name`, never both). */
export interface AzureRefTemplates {
  vaultUrl: Template
  id?: Template | undefined
  name?: Template | undefined
  version?: Template | undefined
  jsonKey?: Template | undefined
}

/** Key Vault object names: 1 to 127 letters, digits and dashes. */
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/
/** Version ids are 32 hex digits; anything of letters and digits is taken, nothing else. */
const VERSION = /^[0-9A-Za-z]{1,64}$/

/** The origin of a vault URL (`https://<vault>.vault.azure.net`), or undefined when it is not one. */
export function vaultOrigin(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return undefined
  if (url.search !== '' || url.hash !== '' || url.pathname.replace(/\/+$/, '') !== '') return undefined
  return url.origin
}

/**
 * A secret identifier `https://<vault>.vault.azure.net/secrets/<name>[/<version>]` taken apart, each part
 * trimmed (Key Vault's event samples carry stray spaces); undefined when it is not one.
 */
export function parseSecretId(id: string): { origin: string; name: string; version?: string } | undefined {
  let url: URL
  try {
    url = new URL(id.trim())
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' || url.search !== '' || url.hash !== '') return undefined
  const parts = url.pathname
    .split('/')
    .map((p) => decodeURIComponent(p).trim())
    .filter((p) => p !== '')
  if (parts.length < 2 || parts.length > 3 || parts[0] !== 'secrets') return undefined
  const [, name = '', version] = parts
  if (!SECRET_NAME.test(name) || (version !== undefined && !VERSION.test(version))) return undefined
  return { origin: url.origin, name, ...(version === undefined ? {} : { version }) }
}

/** An Azure Key Vault reference: each field a template, rendered and checked by `renderAzureRef`. */
export function azureRef(
  c: RefCompiler,
  azure: AzureValue,
  path: string,
): (payload: unknown) => AzureValueRef {
  const optional = (text: string | undefined, field: string) =>
    text === undefined ? undefined : c.nonEmpty(text, `${path}.${field}`)
  const templates = {
    vaultUrl: c.nonEmpty(azure.vaultUrl, `${path}.vaultUrl`),
    id: optional(azure.id, 'id'),
    name: optional(azure.name, 'name'),
    version: optional(azure.version, 'version'),
    jsonKey: optional(azure.jsonKey, 'jsonKey'),
  }
  // Renders only run once the rules compiled without a problem, so vaultUrl exists.
  return renderAzureRef(templates as AzureRefTemplates, path)
}

/**
 * Renders an `{store: 'azure'}` reference. With `id`, the name and version come from it and it must
 * name the vault `vaultUrl` names: an event for another vault is refused (422), never read.
 */
export function renderAzureRef(t: AzureRefTemplates, path: string): (payload: unknown) => AzureValueRef {
  return (payload) => {
    const vaultUrl = vaultOrigin(t.vaultUrl(payload))
    if (vaultUrl === undefined)
      throw unmappable(`${path}.vaultUrl`, 'is not an https vault URL (https://<vault>.vault.azure.net)')
    let name: string
    let version: string | undefined
    if (t.id !== undefined) {
      const parsed = parseSecretId(t.id(payload))
      if (parsed === undefined)
        throw unmappable(
          `${path}.id`,
          'is not a Key Vault secret id (https://<vault>/secrets/<name>/<version>)',
        )
      if (parsed.origin !== vaultUrl) throw unmappable(`${path}.id`, 'names another vault than vaultUrl')
      name = parsed.name
      version = parsed.version
    } else {
      name = t.name!(payload).trim()
      if (!SECRET_NAME.test(name)) throw unmappable(`${path}.name`, 'is not a Key Vault secret name')
      version = t.version?.(payload).trim()
      if (version !== undefined && !VERSION.test(version))
        throw unmappable(`${path}.version`, 'is not a Key Vault version id')
    }
    const ref: AzureValueRef = { store: 'azure', vaultUrl, name }
    if (version !== undefined) ref.version = version
    if (t.jsonKey !== undefined) ref.jsonKey = t.jsonKey(payload)
    return ref
  }
}
