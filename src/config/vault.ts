// The HashiCorp Vault / OpenBao parts of relay.yaml: the `vault:` connection, `vaultKv` and `vaultDatabase` values.
import { z } from 'zod'

const nonEmpty = z.string().min(1, 'must not be empty')

/** A field of a KV v2 secret in HashiCorp Vault or OpenBao; every string may be a template. */
export const vaultKvValue = z.strictObject({
  vaultKv: z.strictObject({
    mount: nonEmpty.default('secret'),
    path: nonEmpty,
    /** The field of the secret's data map to deliver. */
    key: nonEmpty,
    /** The KV version (a template such as "{{ /version }}" or a number); unset: the current one. */
    version: z.union([nonEmpty, z.number().int().positive()]).optional(),
  }),
})

/** The username or password of a database secrets engine static role (Vault or OpenBao). */
export const vaultDatabaseValue = z.strictObject({
  vaultDatabase: z.strictObject({
    mount: nonEmpty.default('database'),
    role: nonEmpty,
    key: z.enum(['username', 'password']),
  }),
})

/** How the relay logs in to Vault or OpenBao. */
const vaultAuth = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('kubernetes'),
    role: nonEmpty,
    mount: nonEmpty.default('kubernetes'),
    /** The service-account token (JWT) sent to the login; re-read at each login (projected tokens rotate). */
    tokenFile: nonEmpty.default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  }),
  z
    .strictObject({
      method: z.literal('approle'),
      roleId: nonEmpty,
      secretId: nonEmpty.optional(),
      /** A file holding the secret id, re-read at each login. */
      secretIdFile: nonEmpty.optional(),
      mount: nonEmpty.default('approle'),
    })
    .refine((a) => (a.secretId === undefined) !== (a.secretIdFile === undefined), {
      message: 'required: one of secretId or secretIdFile',
      path: ['secretId'],
    }),
  z.strictObject({
    method: z.literal('token'),
    /** A file holding a Vault token (e.g. written by Vault Agent), re-read when it changes. */
    tokenFile: nonEmpty,
  }),
])

/** The connection to HashiCorp Vault or OpenBao, for `vaultKv` and `vaultDatabase` values. */
export const vaultConnection = z.strictObject({
  address: z.url(),
  /** Vault Enterprise namespace (`X-Vault-Namespace`). */
  namespace: nonEmpty.optional(),
  /** PEM CA bundle for Vault's TLS. */
  caFile: nonEmpty.optional(),
  connectTimeoutMs: z.number().int().positive().max(60_000).default(5_000),
  requestTimeoutMs: z.number().int().positive().max(120_000).default(10_000),
  auth: vaultAuth,
  /** Vault Enterprise event notifications: a KV write resyncs the sources that declare it at once. */
  events: z
    .strictObject({
      /** Subscribe to `kv-v2/data-write` (Vault Enterprise 1.16+); the sweep still runs. */
      enabled: z.boolean().default(false),
    })
    .prefault({}),
})

/** The `vault:` block, parsed. */
export type VaultConfig = z.infer<typeof vaultConnection>
export type VaultAuthConfig = VaultConfig['auth']
/** A field of a KV v2 secret, at one version (its number) or, without one, the current version. */
export interface VaultKvRef {
  store: 'vault'
  engine: 'kv'
  mount: string
  path: string
  key: string
  version?: number
}
/** A database static role's username or password; `version` is its `last_vault_rotation` (RFC 3339). */
export interface VaultDatabaseRef {
  store: 'vault'
  engine: 'database'
  mount: string
  role: string
  key: 'username' | 'password'
  version?: string
}
/** A HashiCorp Vault or OpenBao reference. */
export type VaultValueRef = VaultKvRef | VaultDatabaseRef
