// The relay's configuration, as one zod schema: what relay.yaml may say, with defaults and limits.
import { isIP } from 'node:net'
import { z } from 'zod'

/** Vault and secret names, as RWX accepts them. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/

/**
 * Longest vault or secret name the relay forwards. RWX documents no limit (RWX-API.md: not found); 256
 * is far above any real name and keeps a payload from making one huge name travel through the queue,
 * RWX and the logs.
 */
export const NAME_MAX_LENGTH = 256

const nonEmpty = z.string().min(1, 'must not be empty')
const secretList = z.array(nonEmpty).min(1, 'required: at least one')
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
    secrets: z
      .array(
        nonEmpty.refine(
          isStandardWebhooksSecret,
          'must be whsec_ followed by standard base64 of 24 to 64 bytes (as the sender shows it)',
        ),
      )
      .default([]),
    /** `whpk_` (or plain base64) Ed25519 public keys for `v1a,` signatures. */
    publicKeys: z.array(nonEmpty).default([]),
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
  credentials: z.array(z.string().regex(/^[^:]*:.+$/, 'each must be user:password')).min(1, 'required'),
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

const jwt = z
  .strictObject({
    type: z.literal('jwt'),
    in: z.enum(['body', 'header']).default('body'),
    jwksUrl: z.url().optional(),
    keys: z.array(jwkOrPem).optional(),
    issuer: stringOrList.optional(),
    kubernetes: kubernetes.optional(),
    audience: stringOrList,
    algorithms: z
      .array(nonEmpty)
      .min(1, 'required')
      .refine((a) => !a.some((x) => x.toLowerCase() === 'none'), 'must not include none'),
    claims: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** Oldest accepted `iat`, seconds or a jose duration such as `10m`. */
    maxTokenAge: z.union([z.number().positive(), nonEmpty]).optional(),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** `in: body`: refuse a token without `iat` (its event time), so it cannot overtake a newer value. */
    requireIssuedAt: z.boolean().default(true),
    /** `in: body`: refuse a token without `exp` unless `maxTokenAge` is set, so no token is valid forever. */
    requireExpiry: z.boolean().default(true),
    /** Private keys (JWK or PEM) that decrypt a JWE body; the JWE must hold a signed JWT. */
    decryptionKeys: z.array(jwkOrPem).optional(),
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

export const verifySchema = z.discriminatedUnion('type', [
  stripe,
  standardWebhooks,
  hmac,
  apiKey,
  basic,
  jwt,
  awsSns,
])

const awsValue = z.strictObject({
  awsSecretsManager: z.strictObject({
    secretId: nonEmpty,
    versionId: nonEmpty.optional(),
    jsonKey: nonEmpty.optional(),
  }),
})

const secretRule = z.strictObject({
  vault: nonEmpty,
  name: nonEmpty,
  /** JSON Pointer to the value in the payload, or a value fetched from AWS at delivery. */
  value: z.union([z.string(), awsValue]),
  description: z.string().optional(),
})

const rule = z.strictObject({
  when: z.record(z.string(), z.union([z.unknown(), z.array(z.unknown())])).default({}),
  secrets: z.array(secretRule).min(1, 'required'),
})

export const sourceSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must match ^[A-Za-z0-9_.-]+$'),
  verify: verifySchema,
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
        leaseSeconds: z.number().int().min(5).default(60),
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
          })
          .prefault({}),
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
    sources: z.array(sourceSchema).default([]),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.sources.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'id'], message: 'duplicate id' })
      seen.add(s.id)
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
export type AwsValueRef = z.infer<typeof awsValue>['awsSecretsManager']
