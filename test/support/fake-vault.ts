// A stand-in for HashiCorp Vault / OpenBao on loopback: KV v2, database static roles, Kubernetes and AppRole login, token TTLs.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { startEventHub } from './fake-vault-events.js'

interface KvVersion {
  data: Record<string, unknown>
  created: string
  deletionTime: string
  destroyed: boolean
}

interface StaticRole {
  username: string
  password: string
  rotation: string
}

interface Token {
  expiresAt: number
  /** Longest the token may live (renewals stop there). */
  maxAt: number
  renewable: boolean
}

/** One request the fake answered (the token itself is never kept: only whether one came). */
export interface VaultCall {
  method: string
  path: string
  query: string
  namespace: string | undefined
  token: boolean
  status: number
}

export interface FakeVaultOptions {
  /** Require this `X-Vault-Namespace` on every request (403 otherwise). */
  namespace?: string
  /** Seconds a login's token lives, and its max TTL (renewals stop there). */
  tokenTtlSeconds?: number
  tokenMaxTtlSeconds?: number
  /** Serve HTTPS with this certificate and key (PEM) instead of HTTP. */
  tls?: { certPem: string; keyPem: string }
}

/** A programmable Vault. Mounts: KV v2 at `secret`, database at `database`, auth at `kubernetes` and `approle`. */
export interface FakeVault {
  url: string
  calls: VaultCall[]
  /** Kubernetes auth: the role and the service-account JWT it accepts. */
  kubernetesRole(role: string, jwt: string): void
  /** AppRole auth: a role id and secret id it accepts. */
  approle(roleId: string, secretId: string): void
  /** A token that never expires (as for the token-file method); returns it. */
  staticToken(): string
  /** Writes a new KV version at `path` (mount `secret`); returns its number. */
  put(path: string, data: Record<string, unknown>, mount?: string): number
  /** Soft-deletes or destroys one version. */
  deleteVersion(path: string, version: number, how?: 'delete' | 'destroy', mount?: string): void
  /** Creates or rotates a database static role: a new password and last_vault_rotation. */
  rotate(role: string, username: string, password: string): string
  /** Refuses (403) every path starting with `prefix` (e.g. `secret/data/private`). */
  deny(prefix: string): void
  /** Every token issued so far stops working (as when its TTL ends). */
  expireTokens(): void
  sealed: boolean
  /** Answers the next `count` requests with `status` instead. */
  failNext(count: number, status: number): void
  /** Event subscribers (WebSockets) connected now; `dropSubscribers()` cuts them (as a failover would). */
  subscribers(): number
  dropSubscribers(): void
  /** How many logins, renewals were answered with a token. */
  logins: number
  renewals: number
  close(): Promise<void>
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(body === undefined ? '' : JSON.stringify(body))
}
const errors = (res: ServerResponse, status: number, ...messages: string[]) =>
  json(res, status, { errors: messages })

/** Vault's time format, with nanoseconds (as last_vault_rotation has them). */
const vaultTime = (ms = Date.now(), nanos = 0) =>
  new Date(ms)
    .toISOString()
    .replace(/\.(\d{3})Z$/, (_, m: string) => `.${m}${String(nanos).padStart(6, '0')}Z`)

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    const parsed = JSON.parse(text || '{}')
    return typeof parsed === 'object' && parsed !== null ? parsed : {}
  } catch {
    return {}
  }
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeVault(options: FakeVaultOptions = {}): Promise<FakeVault> {
  const ttl = options.tokenTtlSeconds ?? 3600
  const maxTtl = options.tokenMaxTtlSeconds ?? 24 * 3600
  const kv = new Map<string, KvVersion[]>()
  const roles = new Map<string, StaticRole>()
  const tokens = new Map<string, Token>()
  const k8sRoles = new Map<string, string>()
  const approles = new Map<string, string>()
  const denied: string[] = []
  const failures: number[] = []
  let rotations = 0

  const issue = (seconds: number, renewable: boolean): string => {
    const token = `hvs.${randomBytes(18).toString('base64url')}`
    const now = Date.now()
    tokens.set(token, {
      expiresAt: seconds === 0 ? Number.POSITIVE_INFINITY : now + seconds * 1000,
      maxAt: seconds === 0 ? Number.POSITIVE_INFINITY : now + maxTtl * 1000,
      renewable,
    })
    return token
  }
  const authAnswer = (token: string, seconds: number, renewable: boolean) => ({
    auth: { client_token: token, accessor: 'acc', policies: ['relay'], lease_duration: seconds, renewable },
  })

  const fake: FakeVault = {
    url: '',
    calls: [],
    sealed: false,
    logins: 0,
    renewals: 0,
    kubernetesRole: (role, jwt) => void k8sRoles.set(role, jwt),
    approle: (roleId, secretId) => void approles.set(roleId, secretId),
    staticToken: () => issue(0, false),
    put(path, data, mount = 'secret') {
      const key = `${mount}/${path}`
      const versions = kv.get(key) ?? []
      versions.push({ data, created: vaultTime(), deletionTime: '', destroyed: false })
      kv.set(key, versions)
      hub.announce(mount, path, versions.length)
      return versions.length
    },
    deleteVersion(path, version, how = 'delete', mount = 'secret') {
      const v = kv.get(`${mount}/${path}`)?.[version - 1]
      if (v === undefined) throw new Error(`no version ${version} of ${path}`)
      if (how === 'destroy') v.destroyed = true
      else v.deletionTime = vaultTime()
    },
    rotate(role, username, password) {
      rotations += 1
      const rotation = vaultTime(Date.now(), rotations)
      roles.set(role, { username, password, rotation })
      return rotation
    },
    deny: (prefix) => void denied.push(prefix),
    expireTokens() {
      for (const t of tokens.values()) t.expiresAt = Date.now() - 1
    },
    failNext(count, status) {
      for (let i = 0; i < count; i++) failures.push(status)
    },
    subscribers: () => hub.count(),
    dropSubscribers: () => hub.drop(),
    close: async () => {
      fake.dropSubscribers()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }

  const versionMeta = (v: KvVersion, n: number) => ({
    created_time: v.created,
    deletion_time: v.deletionTime,
    destroyed: v.destroyed,
    version: n,
    custom_metadata: null,
  })

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const failure = failures.shift()
    if (failure !== undefined) return errors(res, failure, `injected failure ${failure}`)
    if (fake.sealed) return errors(res, 503, 'Vault is sealed')
    if (options.namespace !== undefined && req.headers['x-vault-namespace'] !== options.namespace) {
      return errors(res, 403, 'permission denied')
    }
    const login = /^auth\/([^/]+)\/login$/.exec(path)
    if (req.method === 'POST' && login) {
      if (login[1] !== 'kubernetes' && login[1] !== 'approle') return errors(res, 404, 'no handler for route')
      const body = await readBody(req)
      const ok =
        login[1] === 'kubernetes'
          ? typeof body['role'] === 'string' && k8sRoles.get(body['role']) === body['jwt']
          : login[1] === 'approle' &&
            typeof body['role_id'] === 'string' &&
            approles.get(body['role_id']) === body['secret_id']
      if (!ok) return errors(res, 403, 'permission denied')
      fake.logins += 1
      return json(res, 200, authAnswer(issue(ttl, true), ttl, true))
    }
    const tokenText = req.headers['x-vault-token']
    const token = typeof tokenText === 'string' ? tokens.get(tokenText) : undefined
    if (token === undefined || Date.now() >= token.expiresAt) return errors(res, 403, 'permission denied')
    if (req.method === 'POST' && path === 'auth/token/renew-self') {
      if (!token.renewable) return errors(res, 400, 'lease is not renewable')
      token.expiresAt = Math.min(Date.now() + ttl * 1000, token.maxAt)
      fake.renewals += 1
      const left = Math.max(0, Math.floor((token.expiresAt - Date.now()) / 1000))
      return json(res, 200, authAnswer(tokenText as string, left, true))
    }
    if (req.method === 'GET' && path === 'auth/token/lookup-self') {
      return json(res, 200, { data: { renewable: token.renewable, policies: ['default', 'relay'] } })
    }
    if (denied.some((p) => path.startsWith(p))) return errors(res, 403, 'permission denied')
    if (req.method !== 'GET') return errors(res, 405, 'unsupported operation')

    const creds = /^database\/static-creds\/(.+)$/.exec(path)
    if (creds) {
      const role = roles.get(creds[1] ?? '')
      if (role === undefined) return errors(res, 400, `unknown role: ${creds[1]}`)
      return json(res, 200, {
        data: {
          username: role.username,
          password: role.password,
          last_vault_rotation: role.rotation,
          rotation_period: 86400,
          ttl: 3600,
        },
      })
    }
    const kvPath = /^([^/]+)\/(data|metadata)\/?(.*)$/.exec(path)
    if (kvPath === null) return errors(res, 404, 'no handler for route')
    const [, mount, kind, rest = ''] = kvPath
    if (kind === 'metadata' && query.get('list') === 'true') {
      const prefix = `${mount}/${rest === '' || rest.endsWith('/') ? rest : `${rest}/`}`
      const keys = new Set<string>()
      for (const key of kv.keys()) {
        if (!key.startsWith(prefix)) continue
        const tail = key.slice(prefix.length)
        const slash = tail.indexOf('/')
        keys.add(slash === -1 ? tail : tail.slice(0, slash + 1))
      }
      if (keys.size === 0) return errors(res, 404)
      return json(res, 200, { data: { keys: [...keys].sort() } })
    }
    const versions = kv.get(`${mount}/${rest}`)
    if (versions === undefined) return errors(res, 404)
    if (kind === 'metadata') {
      const all = new Map(versions.map((v, i) => [String(i + 1), versionMeta(v, i + 1)]))
      return json(res, 200, {
        data: {
          current_version: versions.length,
          oldest_version: 1,
          max_versions: 0,
          created_time: versions[0]?.created,
          updated_time: versions.at(-1)?.created,
          versions: Object.fromEntries(all),
        },
      })
    }
    const n = query.has('version') ? Number(query.get('version')) : versions.length
    const v = versions[n - 1]
    if (v === undefined) return errors(res, 404)
    if (v.destroyed || v.deletionTime !== '')
      return json(res, 404, { data: { data: null, metadata: versionMeta(v, n) } })
    return json(res, 200, { data: { data: v.data, metadata: versionMeta(v, n) } })
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://vault')
    const path = url.pathname.replace(/^\/v1\//, '')
    res.on('finish', () => {
      const ns = req.headers['x-vault-namespace']
      fake.calls.push({
        method: req.method ?? '',
        path,
        query: url.search,
        namespace: typeof ns === 'string' ? ns : undefined,
        token: req.headers['x-vault-token'] !== undefined,
        status: res.statusCode,
      })
    })
    handle(req, res, decodeURIComponent(path), url.searchParams).catch(() =>
      errors(res, 500, 'internal error'),
    )
  }
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener)
    : createServer(listener)
  const hub = startEventHub(server, (req, path, query) => {
    const ns = req.headers['x-vault-namespace']
    const tokenText = req.headers['x-vault-token']
    const token = typeof tokenText === 'string' ? tokens.get(tokenText) : undefined
    const allowed =
      path === 'sys/events/subscribe/kv-v2/data-write' &&
      query.get('json') === 'true' &&
      !fake.sealed &&
      (options.namespace === undefined || ns === options.namespace) &&
      token !== undefined &&
      Date.now() < token.expiresAt &&
      !denied.some((p) => path.startsWith(p))
    fake.calls.push({
      method: 'GET',
      path,
      query: `?${query}`,
      namespace: typeof ns === 'string' ? ns : undefined,
      token: tokenText !== undefined,
      status: allowed ? 101 : 403,
    })
    return allowed
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  fake.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`
  return fake
}
