// Resolves `gcpSecretManager` value references at delivery: the exact version, gated by an alias, never regressing.
import { SecretManagerServiceClient } from '@google-cloud/secret-manager'
import { type GcpValueRef, isGcpRef, type ValueRef } from '../config/schema.js'
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

/** One call's deadline; the SDK's own retries are off (the delivery worker retries with backoff). */
const CALL = { timeout: 15_000, retry: { retryCodes: [] } }

/** The part of a pino logger the resolver uses. */
export interface GcpResolverLog {
  warn(obj: object, msg: string): void
}

/** The client surface the resolver calls (the SDK's, or a test's). */
export type SecretManagerClient = Pick<
  SecretManagerServiceClient,
  'accessSecretVersion' | 'getSecretVersion' | 'close' | 'initialize'
>

/** Where the resolver's clients come from. */
export interface GcpResolverOptions {
  /** A service-account key or external_account file; unset: Application Default Credentials. */
  credentialsFile?: string | undefined
  /** Another endpoint for every secret (`https://host[:port]`; `http://` on loopback only: tests). */
  endpoint?: string | undefined
  log?: GcpResolverLog
  /** A client for an API host (tests); called once per host. */
  clientFor?(host: string): SecretManagerClient
}

/** A resolver that owns clients; `close()` closes them. */
export type GcpResolver = ReferenceResolver & { close(): void }

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The endpoint's connection settings for google-gax's REST transport. */
function endpointOptions(endpoint: string): {
  apiEndpoint: string
  port: number
  protocol: 'http' | 'https'
} {
  const url = new URL(endpoint)
  const protocol = url.protocol === 'http:' ? 'http' : 'https'
  if (protocol === 'http' && !LOOPBACK.has(url.hostname))
    throw new Error('gcp.endpoint: http:// only on loopback (a local stand-in); use https://')
  const port = url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port)
  return { apiEndpoint: url.hostname.replace(/^\[|\]$/g, ''), port, protocol }
}

/** The API host of a secret: a regional secret (`projects/P/locations/L/…`) has its own. */
export function gcpHost(secret: string): string {
  const location = /^projects\/[^/]+\/locations\/([a-z0-9-]+)\//.exec(secret)?.[1]
  return location === undefined
    ? 'secretmanager.googleapis.com'
    : `secretmanager.${location}.rep.googleapis.com`
}

// gRPC status codes by number, as google-gax errors carry them in `code`.
const RPC_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
]
const HTTP_NAMES: ReadonlyMap<number, string> = new Map([
  [400, 'INVALID_ARGUMENT'],
  [401, 'UNAUTHENTICATED'],
  [403, 'PERMISSION_DENIED'],
  [404, 'NOT_FOUND'],
  [429, 'RESOURCE_EXHAUSTED'],
])

/**
 * The Google status name of an error: a gRPC code, or, for a REST answer (the transport's HTTP error,
 * `code` the HTTP status), the `error.status` of its JSON body, else the HTTP status's usual name.
 */
function statusName(e: { code?: unknown; status?: unknown; message?: unknown }): string | undefined {
  if (typeof e.code === 'number' && e.code < RPC_NAMES.length) return RPC_NAMES[e.code]
  const http = typeof e.status === 'number' ? e.status : typeof e.code === 'number' ? e.code : undefined
  if (http === undefined) return undefined
  try {
    const status = (JSON.parse(String(e.message)) as { error?: { status?: unknown } }).error?.status
    if (typeof status === 'string' && RPC_NAMES.includes(status)) return status
  } catch {
    // not a JSON answer: the HTTP status alone
  }
  return HTTP_NAMES.get(http) ?? (http >= 500 ? 'UNAVAILABLE' : 'UNKNOWN')
}

/** A client that could not be made ready: Google credentials absent or unreadable (ADC, the key file). */
class CredentialsError extends Error {
  constructor(cause: unknown) {
    super('Google credentials missing or unusable', { cause })
  }
}

/** Turns a google-gax, HTTP or network error into retry or dead. Reasons name the status, never a value. */
export function classifyGcpError(err: unknown): Failure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown }
  const name = statusName(e)
  switch (name) {
    case 'NOT_FOUND':
      return { kind: 'dead', error: 'NOT_FOUND: no such secret or version' }
    case 'FAILED_PRECONDITION':
      return { kind: 'dead', error: 'FAILED_PRECONDITION: the version is disabled or destroyed' }
    case 'INVALID_ARGUMENT':
      return { kind: 'dead', error: 'INVALID_ARGUMENT: Secret Manager refused the request' }
    case 'PERMISSION_DENIED':
      return outsideFix(
        'PERMISSION_DENIED: the relay may not read this secret (roles/secretmanager.secretAccessor)',
      )
    case 'UNAUTHENTICATED':
      return outsideFix('UNAUTHENTICATED: Google credentials refused')
    case 'RESOURCE_EXHAUSTED':
      return { kind: 'retry', error: 'RESOURCE_EXHAUSTED: Secret Manager is throttling' }
  }
  // google-auth-library's own failures (no ADC, a bad key file, the token exchange) carry no status.
  const auth = typeof e.message === 'string' && /credential|token|private key/i.test(e.message)
  if (err instanceof CredentialsError || (name === undefined && auth))
    return outsideFix('Google credentials missing or unusable')
  return {
    kind: 'retry',
    error: name === undefined ? 'Secret Manager unreachable' : `${name}: Secret Manager failed`,
  }
}

/** A version's payload as text: UTF-8 when it is, else base64 (binary payloads). */
function payloadText(data: Uint8Array | string | null | undefined): string {
  if (data === null || data === undefined) return ''
  if (typeof data === 'string') return Buffer.from(data, 'base64').toString('utf8')
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data)
  } catch {
    return Buffer.from(data).toString('base64')
  }
}

/** The version number at the end of a version's name, or undefined. */
function versionNumber(name: string | null | undefined): bigint | undefined {
  const last = /\/versions\/([0-9]+)$/.exec(name ?? '')?.[1]
  return last === undefined ? undefined : BigInt(last)
}

/**
 * With an alias, only the version it points to is forwarded. The alias is read with the value in one
 * call (access by alias: the answer names the version), so no other change can come between: a version
 * older than the alias's is superseded (never regress: Google numbers versions in creation order), a
 * newer one waits for the alias to move (a rotator adds a version, then moves its alias).
 */
function judge(ref: GcpValueRef, answeredName: string | null | undefined): Resolved | undefined {
  if (ref.alias === undefined) return undefined
  const current = versionNumber(answeredName)
  const wanted = BigInt(ref.version)
  if (current === undefined) return { kind: 'retry', error: `alias ${ref.alias} names no version` }
  if (wanted < current)
    return { kind: 'superseded', error: `alias ${ref.alias} points to a newer version (${current})` }
  if (wanted > current)
    return { kind: 'retry', error: `alias ${ref.alias} does not point to this version yet` }
  return undefined
}

/**
 * Creates the resolver for values in Google Secret Manager, over the SDK's REST transport (one client per
 * API host, made on first use): Application Default Credentials or `credentialsFile`.
 */
export function createGcpResolver(options: GcpResolverOptions = {}): GcpResolver {
  const endpoint = options.endpoint === undefined ? undefined : endpointOptions(options.endpoint)
  const clients = new Map<string, SecretManagerClient>()
  const make =
    options.clientFor ??
    ((host: string) =>
      new SecretManagerServiceClient({
        fallback: true,
        ...(endpoint ?? { apiEndpoint: host }),
        ...(options.credentialsFile === undefined ? {} : { keyFilename: options.credentialsFile }),
      }))
  /**
   * The client for a secret's host, initialized (credentials loaded). A client keeps a failed
   * initialization forever, and each call on it then also leaves an unhandled rejection behind (every
   * method does `initialize().catch(throw)`): so it is initialized here first, and dropped when that
   * fails, so that the next attempt starts afresh (a key file mounted late, a fixed workload identity).
   */
  const clientFor = async (secret: string): Promise<SecretManagerClient> => {
    const host = endpoint === undefined ? gcpHost(secret) : ''
    let client = clients.get(host)
    if (client === undefined) {
      client = make(host)
      clients.set(host, client)
    }
    try {
      await client.initialize()
    } catch (err) {
      if (clients.get(host) === client) clients.delete(host)
      void client.close().catch(() => {})
      throw new CredentialsError(err)
    }
    return client
  }
  const credentialsProblem = (result: Failure) => {
    if (isOutsideFix(result))
      options.log?.warn({ reason: result.error }, 'Google Secret Manager credentials problem')
    return result
  }

  return {
    async resolve(ref: ValueRef): Promise<Resolved> {
      if (!isGcpRef(ref)) return { kind: 'dead', error: 'not a Google Secret Manager reference' }
      const name = `${ref.secret}/versions/${ref.alias ?? ref.version}`
      try {
        const [out] = await (await clientFor(ref.secret)).accessSecretVersion({ name }, CALL)
        return judge(ref, out.name) ?? valueFromText(payloadText(out.payload?.data), ref.jsonKey)
      } catch (err) {
        return credentialsProblem(classifyGcpError(err))
      }
    },
    async current(ref: ValueRef): Promise<CurrentVersion> {
      if (!isGcpRef(ref)) return { kind: 'missing', error: 'not a Google Secret Manager reference' }
      const name = `${ref.secret}/versions/${ref.alias ?? 'latest'}`
      try {
        const [out] = await (await clientFor(ref.secret)).getSecretVersion({ name }, CALL)
        const version = versionNumber(out.name)
        if (version === undefined) return { kind: 'missing', error: 'the alias names no version' }
        const state = String(out.state)
        if (state !== 'ENABLED' && state !== '1')
          return { kind: 'missing', error: 'the current version is not enabled' }
        const seconds = Number(out.createTime?.seconds ?? Number.NaN)
        const createdAt = seconds * 1000 + Math.floor((out.createTime?.nanos ?? 0) / 1e6)
        return {
          kind: 'version',
          ref: { ...ref, version: String(version) },
          version: String(version),
          ...(Number.isFinite(createdAt) ? { createdAt } : {}),
        }
      } catch (err) {
        return currentFailure(credentialsProblem(classifyGcpError(err)))
      }
    },
    close() {
      for (const client of clients.values()) void client.close().catch(() => {})
      clients.clear()
    },
  }
}
