// Resolves `awsSecretsManager` value references at delivery time: finished rotations only, never regressing.
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager'
import { type AwsValueRef, isAwsRef, type ValueRef } from '../config/schema.js'
import { type HandlerTimeouts, undiciRequestHandler } from '../http/aws-handler.js'
import { type ProxyConfig, usesProxy } from '../http/outbound.js'
import { nonEmptyValue, valueFromText } from './json-key.js'
import {
  type CurrentVersion,
  currentFailure,
  type Failure,
  isOutsideFix,
  outsideFix,
  type ReferenceResolver,
  type Resolved,
} from './values.js'

/** The part of a pino logger the resolver uses; the SDK's own log goes through it too. */
export interface AwsResolverLog {
  trace?(obj: object, msg: string): void
  debug?(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error?(obj: object, msg: string): void
}

type SdkLogFn = (...content: unknown[]) => void

/**
 * The SDK client's `logger`, writing through ours as JSON with `component: "aws-sdk"`: its debug at trace,
 * its info (one line per call) at debug, warn and error as such. Only its text and the client and
 * command names are kept; an object it logs (a call's input and output) is never written.
 */
function sdkLogger(log: AwsResolverLog) {
  const at =
    (level: 'trace' | 'debug' | 'warn' | 'error'): SdkLogFn =>
    (...content) => {
      const text = content
        .filter((c): c is string => typeof c === 'string')
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 500)
      const call = content.find((c) => typeof c === 'object' && c !== null) as
        | { clientName?: unknown; commandName?: unknown }
        | undefined
      const fields = {
        component: 'aws-sdk',
        ...(typeof call?.clientName === 'string' ? { client: call.clientName } : {}),
        ...(typeof call?.commandName === 'string' ? { command: call.commandName } : {}),
      }
      log[level]?.(fields, text === '' ? 'AWS SDK call' : text)
    }
  return { trace: at('trace'), debug: at('trace'), info: at('debug'), warn: at('warn'), error: at('error') }
}

/**
 * Warnings the SDK emits with process.emitWarning while a client is made (NodeVersionSupportWarning: on
 * Node < 22 it announces that SDK releases from January 2027 need Node 22), which Node would print as
 * plain text into the JSON log. Only while `make` runs, and only those: any other warning goes on to Node.
 */
const SDK_WARNINGS = /^(NodeVersionSupportWarning):\s*/

function withSdkWarnings<T>(log: AwsResolverLog | undefined, make: () => T): T {
  if (log === undefined) return make()
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message
    const sdk = SDK_WARNINGS.exec(text)
    if (sdk === null) return Reflect.apply(emitWarning, process, [warning, ...rest])
    log.warn({ component: 'aws-sdk', warning: sdk[1] }, text.slice(sdk[0].length).replace(/\s+/g, ' ').trim())
  }) as typeof process.emitWarning
  try {
    return make()
  } finally {
    process.emitWarning = emitWarning
  }
}

/** Where the resolver gets its Secrets Manager clients. */
export interface AwsResolverOptions {
  /** One client for every secret, whatever its region (tests). Not destroyed by `close()`. */
  client?: SecretsManagerClient
  /** A client for a region (`undefined`: the SDK's default region); called once per region. */
  clientFor?(region: string | undefined): SecretsManagerClient
  log?: AwsResolverLog
  /** The outbound proxy the default clients' requests go through (HTTPS_PROXY, NO_PROXY). */
  proxy?: ProxyConfig
}

/** A resolver that owns clients; `close()` destroys them. */
export type AwsResolver = ReferenceResolver & { close(): void }

/** The region of a Secrets Manager ARN, or undefined for a secret name. */
export function regionOf(secretId: string): string | undefined {
  return /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1]
}

/** Secrets Manager timeouts, direct or through the proxy. */
const TIMEOUTS: HandlerTimeouts = { connectionTimeout: 5_000, requestTimeout: 15_000 }

/**
 * The default client: the SDK's credential chain, region and endpoint settings (AWS_REGION,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER), explicit timeouts, and no SDK retries: the delivery worker
 * already retries with backoff, and a hidden retry would hold a delivery slot for seconds. The SDK logs
 * through `log` (JSON lines), never to the console.
 */
function defaultClient(
  region: string | undefined,
  proxy: ProxyConfig,
  log: AwsResolverLog | undefined,
): SecretsManagerClient {
  return new SecretsManagerClient({
    ...(region === undefined ? {} : { region }),
    ...(log === undefined ? {} : { logger: sdkLogger(log) }),
    maxAttempts: 1,
    requestHandler: usesProxy(proxy)
      ? (undiciRequestHandler(proxy, TIMEOUTS) as unknown as SecretsManagerClientConfig['requestHandler'])
      : TIMEOUTS,
  })
}

// A Map: the error name comes from AWS's answer, and may be `constructor` or `toString`.
const DEAD_REASONS: ReadonlyMap<string, string> = new Map([
  [
    'AccessDeniedException',
    'the relay may not read this secret (secretsmanager:GetSecretValue, kms:Decrypt)',
  ],
  ['ResourceNotFoundException', 'no such secret or version'],
  ['DecryptionFailure', 'the secret could not be decrypted with its KMS key (kms:Decrypt)'],
  ['InvalidParameterException', 'Secrets Manager refused the request parameters'],
  [
    'InvalidRequestException',
    'the secret cannot be read in its current state (deleted or scheduled for deletion)',
  ],
])
const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'])
const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
])

interface SdkError {
  name?: unknown
  code?: unknown
  $fault?: unknown
  $metadata?: { httpStatusCode?: number }
  $retryable?: { throttling?: boolean }
}

/** Turns an SDK or network error into retry or dead. Reasons name the error, never a value. */
export function classifyAwsError(err: unknown): Failure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkError
  const name = typeof e.name === 'string' ? e.name : 'Error'
  const dead = DEAD_REASONS.get(name)
  if (dead !== undefined) return { kind: 'dead', error: `${name}: ${dead}` }
  if (THROTTLING.has(name) || e.$retryable?.throttling === true) {
    return { kind: 'retry', error: `${name}: Secrets Manager is throttling` }
  }
  if (CREDENTIALS.has(name)) return outsideFix(`${name}: AWS credentials missing or refused`)
  const status = e.$metadata?.httpStatusCode
  if (e.$fault === 'client' && status !== undefined && status < 500) {
    return { kind: 'dead', error: `${name}: Secrets Manager refused the request (HTTP ${status})` }
  }
  const code = typeof e.code === 'string' ? ` (${e.code})` : ''
  const what =
    status === undefined ? 'Secrets Manager unreachable' : `Secrets Manager answered HTTP ${status}`
  return { kind: 'retry', error: `${name}${code}: ${what}` }
}

/** The value to deliver: SecretString (or one JSON field of it), or SecretBinary as base64. */
function extractValue(out: GetSecretValueCommandOutput, jsonKey: string | undefined): Resolved {
  if (out.SecretString !== undefined) return valueFromText(out.SecretString, jsonKey)
  if (out.SecretBinary !== undefined) {
    if (jsonKey !== undefined) return { kind: 'dead', error: 'jsonKey is set but the secret is binary' }
    return nonEmptyValue(Buffer.from(out.SecretBinary).toString('base64'))
  }
  return { kind: 'dead', error: 'the secret version holds no value' }
}

/**
 * Only a finished rotation is forwarded. GetSecretValue with the VersionId returns the value together
 * with that version's staging labels in one answer (and needs no permission beyond GetSecretValue):
 * AWSCURRENT gives the value, AWSPENDING waits, anything else is older than the current version.
 */
function judge(out: GetSecretValueCommandOutput, ref: AwsValueRef, versionId: string | undefined): Resolved {
  if (versionId !== undefined) {
    const stages = out.VersionStages ?? []
    if (!stages.includes('AWSCURRENT')) {
      if (stages.includes('AWSPENDING')) {
        // No afterMs: the worker's own backoff (delivery.backoffBaseMs, doubling, capped at backoffMaxMs)
        // paces the re-checks. A rotation finishes within seconds to minutes, so asking again soon and
        // then less often forwards it promptly; a fixed delay would burn maxAttempts at a steady rate
        // (50 x 30 s = 25 min before a slow rotation's secret is dead) and could not be tuned, while the
        // backoff is the operator's knob for every retry and lets tests use milliseconds.
        return { kind: 'retry', error: 'version is still AWSPENDING' }
      }
      const labels = stages.length === 0 ? 'no staging label' : stages.join(', ')
      return {
        kind: 'superseded',
        error: `version is no longer AWSCURRENT (${labels}): a newer one is current`,
      }
    }
  }
  return extractValue(out, ref.jsonKey)
}

/**
 * The version labelled AWSCURRENT in DescribeSecret's VersionIdsToStages (metadata only: the value is never
 * read), as the reference pinned to it. Only a finished rotation is current: AWSPENDING is not.
 */
export function currentOf(ref: AwsValueRef, stages: Record<string, string[]> | undefined): CurrentVersion {
  // A Map: version ids come from AWS's answer.
  for (const [versionId, labels] of new Map(Object.entries(stages ?? {}))) {
    if (Array.isArray(labels) && labels.includes('AWSCURRENT')) {
      return { kind: 'version', ref: { ...ref, versionId }, version: versionId }
    }
  }
  return { kind: 'missing', error: 'no version of the secret is AWSCURRENT' }
}

/**
 * Creates the resolver the delivery worker calls for secrets whose value lives in AWS Secrets Manager.
 * One client per region (from the ARN, else the SDK default), made on first use and cached.
 */
export function createAwsResolver(options: AwsResolverOptions = {}): AwsResolver {
  const clients = new Map<string, SecretsManagerClient>()
  const make =
    options.clientFor ??
    ((region: string | undefined) => defaultClient(region, options.proxy ?? {}, options.log))

  const clientFor = (secretId: string): SecretsManagerClient => {
    if (options.client !== undefined) return options.client
    const region = regionOf(secretId)
    const key = region ?? ''
    let client = clients.get(key)
    if (client === undefined) {
      client = withSdkWarnings(options.log, () => make(region))
      clients.set(key, client)
    }
    return client
  }

  return {
    async resolve(ref: ValueRef): Promise<Resolved> {
      if (!isAwsRef(ref)) return { kind: 'dead', error: 'not an AWS Secrets Manager reference' }
      const versionId = ref.versionId?.trim() || undefined
      try {
        const out = await clientFor(ref.secretId).send(
          new GetSecretValueCommand({
            SecretId: ref.secretId,
            ...(versionId === undefined ? {} : { VersionId: versionId }),
          }),
        )
        return judge(out, ref, versionId)
      } catch (err) {
        const result = classifyAwsError(err)
        if (isOutsideFix(result))
          options.log?.warn({ reason: result.error }, 'AWS Secrets Manager credentials problem')
        return result
      }
    },
    async current(ref: ValueRef): Promise<CurrentVersion> {
      if (!isAwsRef(ref)) return { kind: 'missing', error: 'not an AWS Secrets Manager reference' }
      try {
        const out = await clientFor(ref.secretId).send(new DescribeSecretCommand({ SecretId: ref.secretId }))
        return currentOf(ref, out.VersionIdsToStages)
      } catch (err) {
        return currentFailure(classifyAwsError(err))
      }
    },
    close() {
      for (const client of clients.values()) client.destroy()
      clients.clear()
    },
  }
}
