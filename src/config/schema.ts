// The relay's configuration, as one zod schema: what relay.yaml may say, with defaults and limits.
import { isIP } from 'node:net'
import { z } from 'zod'
import { type VaultValueRef, vaultConnection, vaultDatabaseValue, vaultKvValue } from './vault.js'

/** Vault and secret names, as RWX accepts them. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/

/**
 * Longest vault or secret name the relay forwards. RWX documents no limit (RWX-API.md: not found); 256
 * is far above any real name and keeps a payload from making one huge name travel through the queue,
 * RWX and the logs.
 */
export const NAME_MAX_LENGTH = 256

const nonEmpty = z.string().min(1, 'must not be empty')

/** The `verify` lists of secrets or keys (see `KEY_LIST_FIELDS`). */
const keyListSchemas = new WeakSet<z.ZodType>()
/** Marks a verifier's list of secrets or keys: an entry that expands to empty (`"${OLD:-}"`) is left out. */
function keyList<T extends z.ZodType>(schema: T): T {
  keyListSchemas.add(schema)
  return schema
}
const secretList = keyList(z.array(nonEmpty).min(1, 'required: at least one'))
const stringOrList = z.union([nonEmpty, z.array(nonEmpty).min(1)])
const tolerance = z.number().int().positive().max(86_400).default(300)

/** Shortest `retention.days`: longer than any provider keeps retrying a webhook (dedup keys go with events). */
export const MIN_RETENTION_DAYS = 7

const stripe = z.strictObject({
  type: z.literal('stripe'),
  secrets: secretList,
  toleranceSeconds: tolerance,
})

/** Standard (not URL-safe) base64 with optional padding: what the spec's and Svix's libraries decode. */
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/

/**
 * A Standard Webhooks signing secret as the spec and Svix's server make them: `whsec_` (or nothing)
 * then standard base64 of 24 to 64 bytes. A `whsk_`, mistyped prefix or mixed alphabet is refused here
 * rather than silently keyed with bytes the sender never used.
 */
function isStandardWebhooksSecret(secret: string): boolean {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret
  if (!STANDARD_BASE64.test(body)) return false
  const bytes = Buffer.from(body, 'base64').length
  return bytes >= 24 && bytes <= 64
}

const standardWebhooks = z
  .strictObject({
    type: z.literal('standard-webhooks'),
    /** `whsec_` secrets for `v1,` HMAC signatures. */
    secrets: keyList(
      z.array(
        nonEmpty.refine(
          isStandardWebhooksSecret,
          'must be whsec_ followed by standard base64 of 24 to 64 bytes (as the sender shows it)',
        ),
      ),
    ).default([]),
    /** `whpk_` (or plain base64) Ed25519 public keys for `v1a,` signatures. */
    publicKeys: keyList(z.array(nonEmpty)).default([]),
    /** Header set read first and named in errors: `webhook` (the spec) or `svix`; the other set is accepted too. */
    headerPrefix: z.enum(['webhook', 'svix']).default('webhook'),
    toleranceSeconds: tolerance,
  })
  .refine((v) => v.secrets.length + v.publicKeys.length > 0, {
    message: 'required: at least one of secrets or publicKeys',
    path: ['secrets'],
  })

const hmac = z.strictObject({
  type: z.literal('hmac'),
  header: nonEmpty,
  secrets: secretList,
  algorithm: z.enum(['sha256', 'sha512', 'sha1']).default('sha256'),
  encoding: z.enum(['hex', 'base64']).default('hex'),
  /** Text before the signature in the header, e.g. `sha256=`. */
  prefix: z.string().default(''),
  /** How each secret is turned into the HMAC key. */
  keyEncoding: z.enum(['utf8', 'base64']).default('utf8'),
})

const apiKey = z.strictObject({
  type: z.literal('api-key'),
  header: nonEmpty,
  keys: secretList,
})

const basic = z.strictObject({
  type: z.literal('basic'),
  credentials: keyList(
    z.array(z.string().regex(/^[^:]*:.+$/, 'each must be user:password')).min(1, 'required'),
  ),
})

const jwkOrPem = z.union([nonEmpty, z.record(z.string(), z.unknown())])

/** A Kubernetes name (DNS label or subdomain), as namespaces and service accounts are named. */
const KUBE_NAME = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?'

const kubernetesIssuer = z.strictObject({
  /** The cluster's `--service-account-issuer`; its keys are found by OIDC discovery. */
  issuer: z.url(),
  /** The JWKS itself (or a public mirror of it): skips discovery. */
  jwksUrl: z.url().optional(),
  /** PEM CA bundle for the API server's TLS (e.g. the pod's serviceaccount/ca.crt). */
  caFile: nonEmpty.optional(),
  /** A bearer token to fetch discovery and JWKS with, where they are not served anonymously. */
  tokenFile: nonEmpty.optional(),
})

/** Tokens of one service account, from one or several clusters. */
const kubernetes = z.strictObject({
  /** `<namespace>:<serviceaccount>`: pins `sub` to `system:serviceaccount:<namespace>:<serviceaccount>`. */
  serviceAccount: z
    .string()
    .regex(new RegExp(`^${KUBE_NAME}:${KUBE_NAME}$`), 'must be <namespace>:<serviceaccount>'),
  issuers: z.array(kubernetesIssuer).min(1, 'required: at least one'),
})

const claimValue = z.union([z.string(), z.number(), z.boolean()])

const jwt = z
  .strictObject({
    type: z.literal('jwt'),
    in: z.enum(['body', 'header']).default('body'),
    jwksUrl: z.url().optional(),
    keys: keyList(z.array(jwkOrPem)).optional(),
    issuer: stringOrList.optional(),
    kubernetes: kubernetes.optional(),
    audience: stringOrList,
    algorithms: z
      .array(nonEmpty)
      .min(1, 'required')
      .refine((a) => !a.some((x) => x.toLowerCase() === 'none'), 'must not include none'),
    /** Claims the token must carry: a value exactly, or a list of values of which it must be one. */
    claims: z.record(z.string(), z.union([claimValue, z.array(claimValue).min(1)])).default({}),
    /** Oldest accepted `iat`, seconds or a jose duration such as `10m`. */
    maxTokenAge: z.union([z.number().positive(), nonEmpty]).optional(),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** `in: body`: refuse a token without `iat` (its event time), so it cannot overtake a newer value. */
    requireIssuedAt: z.boolean().default(true),
    /** `in: body`: refuse a token without `exp` unless `maxTokenAge` is set, so no token is valid forever. */
    requireExpiry: z.boolean().default(true),
    /** Private keys (JWK or PEM) that decrypt a JWE body; the JWE must hold a signed JWT. */
    decryptionKeys: keyList(z.array(jwkOrPem)).optional(),
    keyManagementAlgorithms: z.array(nonEmpty).default(['ECDH-ES+A256KW', 'RSA-OAEP-256']),
    contentEncryptionAlgorithms: z.array(nonEmpty).default(['A256GCM']),
  })
  .refine((v) => v.jwksUrl !== undefined || (v.keys?.length ?? 0) > 0 || v.kubernetes !== undefined, {
    message: 'required: jwksUrl or keys',
    path: ['keys'],
  })
  .refine((v) => v.issuer !== undefined || v.kubernetes !== undefined, {
    message: 'required',
    path: ['issuer'],
  })
  .refine((v) => v.kubernetes === undefined || v.claims.sub === undefined, {
    message: 'kubernetes.serviceAccount sets sub',
    path: ['claims', 'sub'],
  })
  .refine(
    (v) =>
      v.kubernetes === undefined ||
      v.issuer === undefined ||
      v.jwksUrl !== undefined ||
      (v.keys?.length ?? 0) > 0,
    { message: 'required with issuer: jwksUrl or keys (kubernetes issuers have their own)', path: ['keys'] },
  )

const awsSns = z.strictObject({
  type: z.literal('aws-sns'),
  topicArns: z.array(nonEmpty).min(1, 'required'),
  certUrlPattern: z
    .string()
    .default('^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/')
    .refine((p) => {
      try {
        new RegExp(p)
        return true
      } catch {
        return false
      }
    }, 'must be a valid regular expression'),
  /** Confirm subscriptions by fetching SubscribeURL. */
  confirmSubscriptions: z.boolean().default(true),
  /** Lowest SignatureVersion accepted: 2 refuses SHA1 (version 1) signatures; set the topic's SignatureVersion to 2 first. */
  minSignatureVersion: z.union([z.literal(1), z.literal(2)]).default(1),
})

/** The Event Grid application: the `appid` (v1) or `azp` (v2) of the Entra tokens it sends to webhooks. */
export const EVENT_GRID_APP_ID = '4962773b-9cdb-44cf-a8bf-237846a00ab7'

/** Microsoft Entra tokens on Event Grid deliveries: the subscription's tenant and app registration. */
const entra = z.strictObject({
  tenantId: nonEmpty,
  /** The app registration the subscription names (`aud`): its application id and/or its id URI. */
  audience: stringOrList,
  /** Where the tenant's v2 issuer and keys live (a local issuer in tests). */
  authorityHost: z.url().default('https://login.microsoftonline.com'),
  /** Accepted `iss`; default the tenant's v1 (`https://sts.windows.net/<tenant>/`) and v2 issuers. */
  issuers: z.array(nonEmpty).min(1).optional(),
  /** The tenant's JWKS; default `<authorityHost>/<tenant>/discovery/v2.0/keys`. */
  jwksUrl: z.url().optional(),
  /** Accepted `appid` (v1) or `azp` (v2): the Event Grid application. */
  appIds: z.array(nonEmpty).min(1).default([EVENT_GRID_APP_ID]),
  /** The app role the token must carry in `roles`. */
  role: nonEmpty.default('AzureEventGridSecureWebhookSubscriber'),
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256']))
    .min(1)
    .default(['RS256']),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
})

/** Azure Event Grid webhooks (Event Grid and CloudEvents 1.0 schemas): an Entra token or a query secret. */
const azureEventGrid = z
  .strictObject({
    type: z.literal('azure-event-grid'),
    entra: entra.optional(),
    /** Secrets accepted in the endpoint URL's query string (several while rotating); never logged. */
    querySecrets: keyList(z.array(nonEmpty).min(1)).optional(),
    /** The query parameter that carries the secret. */
    queryParameter: nonEmpty.default('code'),
    /** Event types counted and logged as provider notices, never mapped. */
    notices: z
      .array(nonEmpty)
      .default(['Microsoft.KeyVault.SecretNearExpiry', 'Microsoft.KeyVault.SecretExpired']),
    /** `WebHook-Allowed-Rate` in the CloudEvents abuse-protection answer (requests a minute); `*` when unset. */
    allowedRate: z.number().int().positive().optional(),
  })
  .refine((v) => v.entra !== undefined || v.querySecrets !== undefined, {
    message: 'required: entra or querySecrets (or both)',
    path: ['entra'],
  })

/** Google's issuers of OIDC ID tokens, as Pub/Sub push tokens name them (both spellings are seen). */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com']

/** Pub/Sub push subscriptions with authentication: a Google-signed ID token of the push service account. */
const googlePubsub = z.strictObject({
  type: z.literal('google-pubsub'),
  /** The subscription's `--push-auth-token-audience` (default: the push endpoint URL); any of a list. */
  audience: stringOrList,
  /** Push service accounts (`--push-auth-service-account`) whose tokens are accepted (`email` claim). */
  serviceAccounts: z.array(z.email()).min(1, 'required: at least one'),
  jwksUrl: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),
  /** Token issuers accepted; Google's by default (a local issuer only for tests). */
  issuer: stringOrList.default(GOOGLE_ISSUERS),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
})

export const verifySchema = z.discriminatedUnion('type', [
  stripe,
  standardWebhooks,
  hmac,
  apiKey,
  basic,
  jwt,
  awsSns,
  azureEventGrid,
  googlePubsub,
])

/** A field of `verify` as written, without the `.optional()` or `.default()` around it. */
function bare(field: z.ZodType): z.ZodType {
  return field instanceof z.ZodOptional || field instanceof z.ZodDefault
    ? bare(field.unwrap() as z.ZodType)
    : field
}

/**
 * The `verify` fields that are lists of secrets or keys (`secrets`, `publicKeys`, `keys`, …), as the
 * schema marks them: in these, an entry that expands to empty is an optional one (one secret while not
 * rolling), left out rather than refused.
 */
export const KEY_LIST_FIELDS: ReadonlySet<string> = new Set(
  verifySchema.options.flatMap((option) =>
    Object.entries(option.shape as Record<string, z.ZodType>)
      .filter(([, field]) => keyListSchemas.has(bare(field)))
      .map(([name]) => name),
  ),
)

const awsValue = z.strictObject({
  awsSecretsManager: z.strictObject({
    secretId: nonEmpty,
    versionId: nonEmpty.optional(),
    jsonKey: nonEmpty.optional(),
  }),
})

const azureValue = z.strictObject({
  azureKeyVault: z
    .strictObject({
      /** `https://<vault>.vault.azure.net`: the vault read from (a template; an `id` must name it). */
      vaultUrl: nonEmpty,
      /** The secret identifier (`{{ /data/Id }}`): name and version are read from it, spaces trimmed. */
      id: nonEmpty.optional(),
      name: nonEmpty.optional(),
      version: nonEmpty.optional(),
      jsonKey: nonEmpty.optional(),
    })
    .refine((v) => (v.id === undefined) !== (v.name === undefined), {
      message: 'required: id or name (not both)',
      path: ['id'],
    })
    .refine((v) => v.id === undefined || v.version === undefined, {
      message: 'id names the version',
      path: ['version'],
    }),
})

const gcpValue = z.strictObject({
  gcpSecretManager: z.strictObject({
    /** `projects/P/secrets/S` (or `projects/P/locations/L/secrets/S`), a template. */
    secret: nonEmpty,
    /** The version number, or the version's full name (`…/secrets/S/versions/N`), a template. */
    version: nonEmpty,
    jsonKey: nonEmpty.optional(),
    /** Forward only a version this alias points to (`latest`, or a named alias such as `current`). */
    alias: nonEmpty.optional(),
  }),
})

const secretRule = z.strictObject({
  vault: nonEmpty,
  name: nonEmpty,
  /** JSON Pointer to the value in the payload, or a value fetched from its store at delivery. */
  value: z.union([z.string(), awsValue, azureValue, gcpValue, vaultKvValue, vaultDatabaseValue]),
  description: z.string().optional(),
})

/** A notice kind: a metric label, so a short fixed word from the config, never from a payload. */
const NOTICE_KIND = /^[a-z0-9][a-z0-9_.-]{0,63}$/

const rule = z
  .strictObject({
    when: z.record(z.string(), z.union([z.unknown(), z.array(z.unknown())])).default({}),
    secrets: z.array(secretRule).default([]),
    /**
     * A provider's reminder or warning that changes no value (Google's SECRET_ROTATE, Azure's
     * SecretNearExpiry): counted in relay_provider_notices_total{source,kind} and logged, nothing queued.
     */
    notice: z.string().regex(NOTICE_KIND, `must match ${NOTICE_KIND.source}`).optional(),
  })
  .refine((r) => r.secrets.length > 0 || r.notice !== undefined, {
    message: 'required: at least one (or a notice)',
    path: ['secrets'],
  })

/** A duration such as `30s`, `10m`, `1h` (or a number of seconds), in milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text > 0 ? Math.round(text * 1000) : undefined
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (m === null) return undefined
  const unit = new Map([
    ['ms', 1],
    ['s', 1_000],
    ['m', 60_000],
    ['h', 3_600_000],
    ['d', 86_400_000],
  ]).get(m[2]!)!
  const ms = Math.round(Number(m[1]) * unit)
  return ms > 0 ? ms : undefined
}

/** Shortest and longest `reconcile.every`. */
export const RECONCILE_EVERY_MIN_MS = 1_000
export const RECONCILE_EVERY_MAX_MS = 7 * 86_400_000

const duration = z
  .union([z.number().positive(), nonEmpty])
  .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 30s, 10m or 1h')
  .transform((v) => parseDuration(v)!)
  .refine((ms) => ms >= RECONCILE_EVERY_MIN_MS && ms <= RECONCILE_EVERY_MAX_MS, 'must be between 1s and 7d')

/**
 * Reconciliation: what this source keeps in RWX, read from its store every `every` (metadata only) and
 * queued when the store holds a newer version than the relay delivered. `secrets` have a rule secret's
 * shape with a value store object; left empty, they are the source's rule secrets whose vault, name and
 * store fields are static.
 */
/**
 * Every KV v2 secret under a Vault/OpenBao prefix, listed again at each sweep: `key` of each is written to
 * `vault` under the name `name` renders (a template over `/path`, `/relative` and `/name`, the relative
 * path with `/` turned into `_`). A rendered name that RWX refuses is skipped and logged.
 */
const vaultPrefix = z.strictObject({
  mount: nonEmpty.default('secret'),
  /** The folder to list (`apps/`); its sub-folders are listed too. */
  prefix: z.string(),
  /** The field of each secret's data map to deliver. */
  key: nonEmpty,
  vault: z.string().regex(NAME_PATTERN, `must match ${NAME_PATTERN.source}`),
  name: nonEmpty.default('{{ /name | upper }}'),
  description: z.string().optional(),
})

const reconcile = z.strictObject({
  /** Time between sweeps (`30s`, `10m`, `1h`). */
  every: duration.prefault('10m'),
  /** Each sweep starts up to this fraction of `every` earlier or later, so replicas and sources spread out. */
  jitter: z.number().min(0).max(0.5).default(0.1),
  /** Write the source's current version again when RWX holds another version than the relay wrote (drift). */
  repair: z.boolean().default(false),
  /** Store reads in flight at once in one sweep. */
  concurrency: z.number().int().min(1).max(32).default(4),
  /** Store reads per second at most in one sweep (the store's API rate limit). */
  ratePerSecond: z.number().positive().max(1_000).default(10),
  secrets: z.array(secretRule).default([]),
  /** KV v2 prefixes listed at each sweep: each secret under one is reconciled as if listed in `secrets`. */
  vaultPrefixes: z.array(vaultPrefix).default([]),
})

export const sourceSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must match ^[A-Za-z0-9_.-]+$'),
  /** How webhooks are verified; a source with `reconcile` may leave it out (pull-only: no /hooks route). */
  verify: verifySchema.optional(),
  reconcile: reconcile.optional(),
  rules: z.array(rule).default([]),
  eventId: z.string().optional(),
  eventTime: z.string().optional(),
  bodyLimit: z
    .number()
    .int()
    .positive()
    .max(16 * 1024 * 1024)
    .default(262_144),
})

/** An address, a CIDR, or one of proxy-addr's names (as Fastify's trustProxy takes them). */
function isProxyAddress(entry: string): boolean {
  const [ip = '', prefix, ...rest] = entry.trim().split('/')
  if (['loopback', 'linklocal', 'uniquelocal'].includes(ip) && prefix === undefined) return true
  const family = isIP(ip)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

const proxyAddresses = 'each must be an IP address, a CIDR, or loopback, linklocal, uniquelocal'
const trustProxy = z.union([
  z.boolean(),
  z.number().int().min(1).max(32),
  nonEmpty.refine((v) => v.split(',').every(isProxyAddress), proxyAddresses),
  z.array(nonEmpty.refine(isProxyAddress, proxyAddresses)).min(1),
])

/** When webhooks are answered 503 + Retry-After instead of queuing up (@fastify/under-pressure); 0 turns a check off. */
const loadShedding = z.strictObject({
  maxEventLoopDelayMs: z.number().int().min(0).default(1_000),
  maxHeapUsedBytes: z.number().int().min(0).default(0),
  maxRssBytes: z.number().int().min(0).default(0),
  maxEventLoopUtilization: z.number().min(0).max(1).default(0),
  sampleIntervalMs: z.number().int().min(100).max(60_000).default(1_000),
  retryAfterSeconds: z.number().int().min(1).max(3_600).default(5),
})

/** What outbound notifications announce (`notify.events`). */
export const NOTIFICATION_KINDS = ['dead', 'drift', 'outside-change'] as const

/**
 * Optional outbound notifications: a webhook signed with the Standard Webhooks scheme (`whsec_` secret),
 * retried with backoff, never carrying a value.
 */
const notifySchema = z.strictObject({
  /** Where every notification is posted (http or https; the only address notifications go to). */
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  /** The Standard Webhooks signing secret the receiver checks: `whsec_` and base64 of 24 to 64 bytes. */
  secret: z
    .string()
    .refine(
      (v) => v.startsWith('whsec_') && isStandardWebhooksSecret(v),
      'must be whsec_ followed by standard base64 of 24 to 64 bytes',
    ),
  /** Which happenings are sent. */
  events: z
    .array(z.enum(NOTIFICATION_KINDS))
    .min(1)
    .default([...NOTIFICATION_KINDS]),
  /** Bounds one POST to the receiver, connecting included. */
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  /** Tries of one notification before it is given up (counted `failed`). */
  maxAttempts: z.number().int().min(1).max(100).default(12),
  /** Exponential backoff with full jitter between tries, as for deliveries. */
  backoffBaseMs: z.number().int().positive().default(5_000),
  backoffMaxMs: z.number().int().positive().default(900_000),
})

/**
 * The whole relay.yaml. A section left out is parsed from `{}` (`.prefault({})`), so each default is
 * written once, on its field.
 */
export const configSchema = z
  .strictObject({
    rwx: z
      .strictObject({
        url: z.url().default('https://cloud.rwx.com'),
        token: z.string().optional(),
        tokenFile: z.string().optional(),
      })
      .prefault({}),
    store: nonEmpty.default('sqlite:./data/relay.db'),
    encryptionKey: z.string().default(''),
    server: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /**
         * A second listener for `/metrics` and `/admin` (and `/healthz`, `/readyz`, served on both); when
         * set, the main port serves neither. Unset: everything on `port`, as before.
         */
        adminPort: z.number().int().min(0).max(65_535).optional(),
        /** Where `adminPort` listens: loopback unless told (in Kubernetes, 0.0.0.0 behind a NetworkPolicy). */
        adminHost: z.string().default('127.0.0.1'),
        /**
         * Which proxies in front to believe about the client address (X-Forwarded-For), as Fastify takes
         * it: false, true (any: only when nothing else can reach the relay), a hop count, or CIDRs/addresses.
         */
        trustProxy: trustProxy.default(false),
        shutdownGraceSeconds: z.number().positive().default(10),
        /** Milliseconds a client has to send a whole request (headers and body); then 408 and close. */
        requestTimeout: z.number().int().positive().max(600_000).default(30_000),
        /** Milliseconds a connection may sit idle before it is closed. */
        connectionTimeout: z.number().int().positive().max(600_000).default(60_000),
        loadShedding: loadShedding.prefault({}),
      })
      .refine((s) => s.adminPort === undefined || s.adminPort === 0 || s.adminPort !== s.port, {
        path: ['adminPort'],
        message: 'must differ from server.port',
      })
      .prefault({}),
    /** Outbound proxy for RWX, JWKS, SNS and AWS (HTTPS_PROXY, HTTP_PROXY, NO_PROXY override these). */
    proxy: z
      .strictObject({
        httpsProxy: z.url().optional(),
        httpProxy: z.url().optional(),
        noProxy: z.string().optional(),
      })
      .prefault({}),
    admin: z
      .strictObject({
        token: z.string().optional(),
        /** A second token for the console that sees every page but cannot act (no pause, retry, discard). */
        readOnlyToken: z.string().optional(),
        /** The operations console at `/ui`, served beside `/admin` when `admin.token` is set. */
        console: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** How long a console session lasts after logging in; then the token is asked again. */
            sessionMinutes: z.number().int().min(1).max(1440).default(60),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Azure Key Vault values: credentials come from the environment (DefaultAzureCredential). */
    azure: z
      .strictObject({
        /** Skip MSAL's instance discovery: for a sovereign cloud or a local authority (AZURE_AUTHORITY_HOST). */
        disableInstanceDiscovery: z.boolean().default(false),
      })
      .prefault({}),
    /** Google Secret Manager (values of `gcpSecretManager` rules): Application Default Credentials unless told. */
    gcp: z
      .strictObject({
        /** A service-account key or `external_account` file; unset: GOOGLE_APPLICATION_CREDENTIALS and ADC. */
        credentialsFile: nonEmpty.optional(),
        /** Another Secret Manager endpoint (`https://host[:port]`, http only on loopback): PSC, tests. */
        endpoint: z
          .url()
          .refine((u) => {
            const url = new URL(u)
            return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
          }, 'must be https:// (http:// only on loopback, for a local stand-in)')
          .optional(),
      })
      .prefault({}),
    /** Accept the example's public DEMO-ONLY signing secrets (trying the relay only; `serve --demo` does the same). */
    allowDemoSecrets: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    rateLimit: z
      .strictObject({
        /** Requests per source and client address per window; 0 turns the limit off. */
        max: z.number().int().min(0).default(600),
        windowSeconds: z.number().int().positive().default(60),
      })
      .prefault({}),
    delivery: z
      .strictObject({
        maxAttempts: z.number().int().positive().default(50),
        maxAgeSeconds: z
          .number()
          .int()
          .positive()
          .default(7 * 86_400),
        /** Secrets per RWX request. */
        batchSize: z.number().int().min(1).max(500).default(100),
        /** How long the worker waits for more secrets before sending a batch. */
        batchWindowMs: z.number().int().min(0).max(5_000).default(25),
        /** RWX requests in flight at once. */
        concurrency: z.number().int().min(1).max(64).default(4),
        /**
         * How long a claim holds its names. The worker renews its leases every third of it while it sends,
         * so it only matters when a worker dies: its claimed, unsent secrets are taken over after it.
         */
        leaseSeconds: z.number().int().min(5).default(15),
        backoffBaseMs: z.number().int().positive().default(1_000),
        backoffMaxMs: z.number().int().positive().default(300_000),
        /** Delay between tries while RWX refuses the token (401/403). */
        authRetrySeconds: z.number().int().positive().default(60),
        connectTimeoutMs: z.number().int().positive().default(5_000),
        requestTimeoutMs: z.number().int().positive().default(15_000),
        /**
         * How long a write whose outcome is unknown (timed out, abandoned at shutdown, in flight when the
         * process died) may still land at RWX: its name is fenced that long, then its next write is
         * confirmed by reading RWX's version back.
         */
        uncertainWriteSeconds: z.number().int().min(1).max(3_600).default(60),
        /**
         * How long a dead secret's sealed value is kept (encrypted, as while queued) so an admin retry can
         * still deliver it; 0 erases it at once. Retention erases it after that.
         */
        keepDeadValuesSeconds: z
          .number()
          .int()
          .min(0)
          .max(90 * 86_400)
          .default(7 * 86_400),
        /** After each 200, read each secret's metadata back and record RWX's version (outside changes). */
        verify: z.boolean().default(false),
        /** While RWX fails (5xx, network), one probe at a time instead of every due secret. */
        breaker: z
          .strictObject({
            /** Failed requests in a row that open it; 0 turns the breaker off. */
            threshold: z.number().int().min(0).default(3),
            /** First wait before a probe, doubled after each failed one up to probeMaxMs. */
            probeMs: z.number().int().positive().default(1_000),
            probeMaxMs: z.number().int().positive().default(30_000),
            /** Cap on the wait after a probe that could not connect (it cost RWX nothing). */
            connectProbeMaxMs: z.number().int().positive().default(2_000),
          })
          .prefault({}),
      })
      .prefault({}),
    sqlite: z
      .strictObject({
        /**
         * Run the SQLite store on its own worker thread, so commits wait beside the event loop: more
         * ingest while delivering on a busy relay, at ~8 MiB more RSS and a thread hop per store call.
         */
        thread: z.boolean().default(false),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        poolSize: z.number().int().min(1).max(100).default(10),
        /** Longest a webhook waits for its event's commit (and /readyz for its ping), then 503. */
        enqueueTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
      })
      .prefault({}),
    retention: z
      .strictObject({
        /**
         * Days to keep finished events (every secret delivered, dead, superseded or discarded) before
         * they and their secrets are deleted; unset keeps them forever. Their dedup keys go with them, so
         * it must outlast providers' retries.
         */
        days: z
          .number()
          .int('must be a whole number of days')
          .min(
            MIN_RETENTION_DAYS,
            `must be at least ${MIN_RETENTION_DAYS}: a purged event's id is accepted again as new, and providers retry for days (Stripe up to 3, Standard Webhooks/Svix about 5)`,
          )
          .optional(),
      })
      .prefault({}),
    /** Outbound notifications on dead secrets, drift and outside changes; off when unset. */
    notify: notifySchema.optional(),
    sources: z.array(sourceSchema).default([]),
    /** HashiCorp Vault or OpenBao, where rules fetch `vaultKv` and `vaultDatabase` values. */
    vault: vaultConnection.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.vault === undefined && valueStoresUsed(c).has('vault')) {
      ctx.addIssue({
        code: 'custom',
        path: ['vault'],
        message: 'required: rules or reconcile.secrets fetch values from Vault (vaultKv, vaultDatabase)',
      })
    }
    const seen = new Set<string>()
    c.sources.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'id'], message: 'duplicate id' })
      seen.add(s.id)
      if (s.verify === undefined && s.reconcile === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'verify'],
          message: 'required (only a source with reconcile may be pull-only)',
        })
      }
      s.reconcile?.secrets.forEach((secret, j) => {
        if (typeof secret.value === 'string') {
          ctx.addIssue({
            code: 'custom',
            path: ['sources', i, 'reconcile', 'secrets', j, 'value'],
            message: `must name a value store (${VALUE_KEY_LIST.join(', ')}), not a JSON Pointer`,
          })
        }
      })
    })
  })

/** What the CLI's admin commands read from the environment (no config file needed for them). */
export const cliEnvSchema = z.object({
  RELAY_ADMIN_TOKEN: z.string().optional(),
  /** The relay to talk to, e.g. http://127.0.0.1:8080. */
  RELAY_URL: z.url().optional(),
  PORT: z.coerce.number().int().min(1).max(65_535).optional(),
})

export type Config = z.infer<typeof configSchema>
export type SourceConfig = Config['sources'][number]
export type VerifyConfig = z.infer<typeof verifySchema>
export type RuleConfig = SourceConfig['rules'][number]
export type SecretRuleConfig = RuleConfig['secrets'][number]
export type DeliveryConfig = Config['delivery']
export type ReconcileConfig = NonNullable<SourceConfig['reconcile']>
/** One `reconcile.vaultPrefixes` entry. */
export type VaultPrefixConfig = ReconcileConfig['vaultPrefixes'][number]
/** A source with webhooks (its `verify` set). */
export type WebhookSourceConfig = SourceConfig & { verify: VerifyConfig }
/** True for a source that takes webhooks; false for a pull-only one (reconcile, no verify). */
export const takesWebhooks = (s: SourceConfig): s is WebhookSourceConfig => s.verify !== undefined
export type NotifyConfig = z.infer<typeof notifySchema>
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number]
export type AwsValueRef = z.infer<typeof awsValue>['awsSecretsManager'] & {
  /** Optional for AWS: references queued before other stores existed carry no tag. */
  store?: 'aws'
}
/**
 * Where a value lives outside the payload, fetched at delivery and never queued. Each store adds its
 * member, tagged by `store` (required for every store but AWS).
 */
/** A Google Secret Manager version: `secret` is `projects/P/secrets/S`, `version` a version number. */
export type GcpValueRef = Omit<z.infer<typeof gcpValue>['gcpSecretManager'], 'version'> & {
  store: 'gcp'
  version: string
}
export type ValueRef = AwsValueRef | AzureValueRef | GcpValueRef | VaultValueRef
/** An Azure Key Vault secret version, queued as `{store: 'azure', vaultUrl, name, version}`. */
export interface AzureValueRef {
  store: 'azure'
  /** `https://<vault>.vault.azure.net` (origin only). */
  vaultUrl: string
  name: string
  /** The version id; absent: whatever version is current at delivery. */
  version?: string
  jsonKey?: string
}
/** An AWS Secrets Manager reference (narrows a ValueRef). */
export const isAwsRef = (ref: ValueRef): ref is AwsValueRef => storeOf(ref) === 'aws'
/** An Azure Key Vault reference (narrows a ValueRef). */
export const isAzureRef = (ref: ValueRef): ref is AzureValueRef => storeOf(ref) === 'azure'
export type { VaultAuthConfig, VaultConfig, VaultDatabaseRef, VaultKvRef, VaultValueRef } from './vault.js'
/** A Vault or OpenBao reference (narrows a ValueRef). */
export const isVaultRef = (ref: ValueRef): ref is VaultValueRef => storeOf(ref) === 'vault'
/** A Google Secret Manager reference (narrows a ValueRef). */
export const isGcpRef = (ref: ValueRef): ref is GcpValueRef => storeOf(ref) === 'gcp'
/** The stores a value reference can name. */
export type ValueStoreKind = NonNullable<ValueRef['store']>
/** The store a reference names. */
export const storeOf = (ref: ValueRef): ValueStoreKind => ref.store ?? 'aws'
/** A rule's `value` object: one key naming its store, e.g. `{ vaultKv: {…} }`. */
type ValueObject = Exclude<SecretRuleConfig['value'], string>
/** The keys a rule's `value` object may have (`awsSecretsManager`, …, `vaultKv`, `vaultDatabase`). */
export type ValueKey = ValueObject extends infer V ? (V extends unknown ? keyof V : never) : never
type ValueBody<K extends ValueKey> = Extract<ValueObject, Record<K, unknown>>[K]

/**
 * Each rule value key, as config and the admin API name it: the store it fetches from (with the Vault
 * engine, for the two keys sharing that store) and the one line `check` shows for it (where, never a value).
 */
const VALUE_KEYS: {
  readonly [K in ValueKey]: { store: ValueStoreKind; engine?: string; summary(v: ValueBody<K>): string }
} = {
  awsSecretsManager: { store: 'aws', summary: (v) => v.secretId },
  azureKeyVault: { store: 'azure', summary: (v) => `${v.vaultUrl} ${v.id ?? v.name}` },
  gcpSecretManager: { store: 'gcp', summary: (v) => v.secret },
  vaultKv: { store: 'vault', engine: 'kv', summary: (v) => `${v.mount}/${v.path}#${v.key}` },
  vaultDatabase: {
    store: 'vault',
    engine: 'database',
    summary: (v) => `${v.mount}/static-creds/${v.role}#${v.key}`,
  },
}
const VALUE_KEY_LIST = Object.keys(VALUE_KEYS) as ValueKey[]

/** The key of a rule's `value` object (undefined only for an object the schema did not parse). */
const valueKeyIn = (value: ValueObject) => VALUE_KEY_LIST.find((k) => Object.hasOwn(value, k))
/** The rule key a reference came from (`vaultDatabase` apart from `vaultKv`, which share a store). */
export function valueKeyOf(ref: ValueRef): ValueKey {
  const engine = isVaultRef(ref) ? ref.engine : undefined
  return VALUE_KEY_LIST.find((k) => VALUE_KEYS[k].store === storeOf(ref) && VALUE_KEYS[k].engine === engine)!
}
/** The stores a configuration's rules fetch values from. */
export function valueStoresUsed(config: { sources: SourceConfig[] }): Set<ValueStoreKind> {
  const used = new Set<ValueStoreKind>()
  for (const source of config.sources) {
    for (const rule of source.rules)
      for (const secret of rule.secrets)
        if (typeof secret.value !== 'string') used.add(valueStoreOf(secret.value))
    for (const secret of source.reconcile?.secrets ?? [])
      if (typeof secret.value !== 'string') used.add(valueStoreOf(secret.value))
    if ((source.reconcile?.vaultPrefixes.length ?? 0) > 0) used.add('vault')
  }
  return used
}
/** A rule's `value` object in one line, for `check` (where, never a value). */
export function valueRefSummary(value: ValueObject): string {
  const key = valueKeyIn(value)
  if (key === undefined) return 'unknown value store'
  const summary = VALUE_KEYS[key].summary as (v: unknown) => string
  return `${key} ${summary((value as Record<ValueKey, unknown>)[key])}`
}
/** The store a rule's `value` object fetches from. */
export function valueStoreOf(value: ValueObject): ValueStoreKind {
  const key = valueKeyIn(value)
  if (key === undefined) throw new TypeError('unknown value store')
  return VALUE_KEYS[key].store
}
