// Resolves `azureKeyVault` value references at delivery: the exact version, only while it is the current one.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity'
import { type KeyVaultSecret, SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets'
import { type AzureValueRef, isAzureRef, type ValueRef } from '../config/schema.js'
import { valueFromText } from './json-key.js'
import {
  type CurrentVersion,
  currentFailure,
  type Failure,
  isOutsideFix,
  outsideFix,
  type ReferenceResolver,
  type Resolved,
} from './values.js'

/** One Key Vault call may take this long (the worker retries with its own backoff). */
const REQUEST_TIMEOUT_MS = 15_000

/** The part of a pino logger the resolver uses. */
export interface AzureResolverLog {
  warn(obj: object, msg: string): void
}

export interface AzureResolverOptions {
  /** The credential for every vault (tests); default DefaultAzureCredential (environment, workload identity, …). */
  credential?: TokenCredential
  /** Skip MSAL's instance discovery (a sovereign or local authority host); `azure.disableInstanceDiscovery`. */
  disableInstanceDiscovery?: boolean
  log?: AzureResolverLog
}

/** A resolver that owns clients; `close()` forgets them. */
export type AzureResolver = ReferenceResolver & { close(): void }

/** A loopback vault is a stand-in: the challenge's resource cannot be a parent domain of it. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i

interface RestLikeError {
  name?: unknown
  statusCode?: unknown
  code?: unknown
  message?: unknown
}

/**
 * Turns an SDK or network error into retry or dead; reasons name the status, never a value or the
 * service's text. 401/403 and credential failures wait without using up attempts; 404 is dead; a
 * disabled version is dead; 429, 5xx and network failures are retried.
 */
export function classifyAzureError(err: unknown): Failure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as RestLikeError
  const name = typeof e.name === 'string' ? e.name : 'Error'
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
  const message = typeof e.message === 'string' ? e.message : ''
  if (status === 403 && /disabled/i.test(message))
    return { kind: 'dead', error: 'Key Vault: the secret version is disabled' }
  if (
    status === 401 ||
    status === 403 ||
    name === 'CredentialUnavailableError' ||
    name === 'AuthenticationError' ||
    name === 'AggregateAuthenticationError'
  ) {
    const what =
      status === undefined
        ? `${name}: Azure credentials missing or refused`
        : `Key Vault answered HTTP ${status}`
    return outsideFix(`${what} (secrets/get permission, e.g. the Key Vault Secrets User role)`)
  }
  if (status === 404) return { kind: 'dead', error: 'Key Vault: no such secret or version' }
  if (status === 429) return { kind: 'retry', error: 'Key Vault is throttling (HTTP 429)' }
  if (status !== undefined && status >= 500)
    return { kind: 'retry', error: `Key Vault answered HTTP ${status}` }
  if (status !== undefined) return { kind: 'dead', error: `Key Vault refused the request (HTTP ${status})` }
  return { kind: 'retry', error: `${name}: Key Vault unreachable` }
}

/** A version's id and creation time, the value dropped. */
interface VersionMeta {
  version: string | undefined
  createdOn: number | undefined
  enabled: boolean | undefined
}

function metaOf(secret: KeyVaultSecret): VersionMeta {
  const p = secret.properties
  return { version: p.version, createdOn: p.createdOn?.getTime(), enabled: p.enabled }
}

/**
 * Creates the resolver for Azure Key Vault references. One SecretClient per vault, made on first use, with
 * no SDK retries (the worker retries) and DefaultAzureCredential unless a credential is given.
 *
 * Never regress: Event Grid delivers unordered and retries for a day, so a version is written only while
 * it is the secret's current version. `getSecret(name)` reads the current version; when it is the
 * referenced one, its value is delivered (one call). Otherwise the referenced version is read too and the
 * two are ordered by `createdOn`: a newer current version makes this one `superseded`.
 */
export function createAzureResolver(options: AzureResolverOptions = {}): AzureResolver {
  const clients = new Map<string, SecretClient>()
  let credential = options.credential
  const requestOptions = { timeout: REQUEST_TIMEOUT_MS }

  const clientFor = (vaultUrl: string): SecretClient => {
    let client = clients.get(vaultUrl)
    if (client === undefined) {
      credential ??= new DefaultAzureCredential({
        ...(options.disableInstanceDiscovery === true ? { disableInstanceDiscovery: true } : {}),
      })
      const clientOptions: SecretClientOptions = {
        retryOptions: { maxRetries: 0 },
        disableChallengeResourceVerification: LOOPBACK.test(new URL(vaultUrl).hostname),
      }
      client = new SecretClient(vaultUrl, credential, clientOptions)
      clients.set(vaultUrl, client)
    }
    return client
  }

  const warnCredentials = (result: Failure) => {
    if (isOutsideFix(result))
      options.log?.warn({ reason: result.error }, 'Azure Key Vault credentials problem')
    return result
  }

  /** The current version's metadata; its value is dropped at once (Key Vault has no metadata-only read). */
  async function currentMeta(client: SecretClient, name: string): Promise<VersionMeta> {
    return metaOf(await client.getSecret(name, { requestOptions }))
  }

  async function resolveAzure(ref: AzureValueRef): Promise<Resolved> {
    const client = clientFor(ref.vaultUrl)
    const current = await client.getSecret(ref.name, { requestOptions })
    const meta = metaOf(current)
    if (ref.version === undefined || meta.version === ref.version) {
      if (meta.enabled === false) return { kind: 'dead', error: 'Key Vault: the secret version is disabled' }
      return valueFromText(current.value ?? '', ref.jsonKey)
    }
    const mine = metaOf(await client.getSecret(ref.name, { version: ref.version, requestOptions }))
    if (mine.createdOn !== undefined && meta.createdOn !== undefined && meta.createdOn < mine.createdOn)
      return { kind: 'retry', error: 'Key Vault names an older version as current; asking again later' }
    const when = meta.createdOn === undefined ? '' : ` (created ${new Date(meta.createdOn).toISOString()})`
    return { kind: 'superseded', error: `a newer version${when} is current` }
  }

  return {
    async resolve(ref: ValueRef): Promise<Resolved> {
      if (!isAzureRef(ref)) return { kind: 'dead', error: 'not an Azure Key Vault reference' }
      try {
        return await resolveAzure(ref)
      } catch (err) {
        return warnCredentials(classifyAzureError(err))
      }
    },
    async current(ref: ValueRef): Promise<CurrentVersion> {
      if (!isAzureRef(ref)) return { kind: 'missing', error: 'not an Azure Key Vault reference' }
      try {
        const meta = await currentMeta(clientFor(ref.vaultUrl), ref.name)
        if (meta.version === undefined)
          return { kind: 'missing', error: 'Key Vault named no current version' }
        return {
          kind: 'version',
          ref: { ...ref, version: meta.version },
          version: meta.version,
          ...(meta.createdOn === undefined ? {} : { createdAt: meta.createdOn }),
        }
      } catch (err) {
        return currentFailure(warnCredentials(classifyAzureError(err)))
      }
    },
    close() {
      clients.clear()
    },
  }
}
