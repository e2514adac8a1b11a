// A local stand-in for the Kubernetes API server: Secrets with list and watch (resourceVersion, chunked
// ADDED/MODIFIED/DELETED/BOOKMARK events, 410 Gone for a compacted version, streams that can be cut,
// restarts on the same port), and the service-account issuer's OIDC discovery and JWKS, with tokens
// signed by a key it owns.
import { randomUUID } from 'node:crypto'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { type VerifyConfig, verifySchema } from '../../src/config/schema.js'

/** A Secret as the API serves it (data base64). */
export interface KubeSecret {
  apiVersion: 'v1'
  kind: 'Secret'
  type: string
  metadata: {
    name: string
    namespace: string
    uid: string
    resourceVersion: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  data: Record<string, string>
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

interface Watcher {
  namespace: string
  /** Asked for BOOKMARK events (`allowWatchBookmarks=true`), as the API server requires. */
  bookmarks: boolean
  selector: (labels: Record<string, string>) => boolean
  res: ServerResponse
}

export interface TokenOptions {
  namespace?: string
  serviceAccount?: string
  audience?: string
  /** Seconds from now; negative for a token that has already expired. */
  expiresIn?: number
  /** Sign with a key the issuer does not publish. */
  foreignKey?: boolean
}

export interface FakeKubeApi {
  url: string
  /** The issuer of its service-account tokens (its own URL). */
  issuer: string
  /** The bearer token the API wants for Secrets (a kubeconfig user's token). */
  apiToken: string
  /** Requests served, e.g. `list default` or `watch default rv=12`. */
  readonly requests: string[]
  /** Who made each Secrets request, in order: `watch` for apiToken, else the name given to acceptApiToken. */
  readonly callers: string[]
  /** Accepts `token` for Secrets from now on, as the user `name` (a pod's service-account token). */
  acceptApiToken(token: string, name: string): void
  /** Creates or updates a Secret (string values, encoded here); returns it. */
  apply(
    namespace: string,
    name: string,
    values: Record<string, string>,
    labels?: Record<string, string>,
  ): KubeSecret
  /** Changes an annotation only: a new resourceVersion, the same data. */
  annotate(namespace: string, name: string): KubeSecret
  remove(namespace: string, name: string): void
  /** Sends a BOOKMARK with the current resourceVersion to every open watch that asked for them. */
  bookmark(): void
  /**
   * Forgets history: a watch from an older resourceVersion gets 410 Gone, as an ERROR event in the
   * stream (what the watch cache does) or as the HTTP status.
   */
  compact(as?: 'event' | 'status'): void
  /** Ends every open watch stream (as a load balancer or an API server timeout does). */
  cutStreams(): void
  /** Stops serving (connections refused) until `start`, keeping every Secret. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Open watch streams. */
  readonly watching: number
  /** A service-account token signed by the issuer (RS256). */
  token(options?: TokenOptions): Promise<string>
  /** Requires a bearer token for discovery and JWKS (as API servers do until discovery is bound). */
  requireTokenForJwks(token: string | undefined): void
  close(): Promise<void>
}

/** `a=b,c,!d,e!=f` label selectors. */
function parseSelector(text: string | null): (labels: Record<string, string>) => boolean {
  const terms = (text ?? '').split(',').filter((t) => t !== '')
  return (labels) =>
    terms.every((t) => {
      if (t.startsWith('!')) return !(t.slice(1) in labels)
      const ne = t.split('!=')
      if (ne.length === 2) return labels[ne[0]!] !== ne[1]
      const eq = t.split(/==?/)
      if (eq.length === 2) return labels[eq[0]!] === eq[1]
      return t in labels
    })
}

/** The server's TLS certificate (for 127.0.0.1) and key, PEM; clients trust it with the CA that issued it. */
export interface KubeTls {
  certPem: string
  keyPem: string
}

/**
 * Starts the API server over HTTPS on 127.0.0.1 and a free port; `plainHttp` serves plain http instead
 * (what a `kubectl proxy` or a misconfigured kubeconfig points at).
 */
export async function startFakeKubeApi(
  tls: KubeTls,
  options: { plainHttp?: boolean } = {},
): Promise<FakeKubeApi> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const foreign = await generateKeyPair('RS256')
  const kid = randomUUID()
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const apiToken = `kube-api-${randomUUID()}`
  const users = new Map<string, string>([[apiToken, 'watch']])
  const callers: string[] = []
  const secrets = new Map<string, KubeSecret>()
  const history: { rv: number; type: EventType | 'BOOKMARK'; object: KubeSecret }[] = []
  const watchers = new Set<Watcher>()
  const sockets = new Set<Socket>()
  const requests: string[] = []
  let rv = 100
  let compactedAt = 0
  let goneAs: 'event' | 'status' = 'event'
  let jwksToken: string | undefined
  let port = 0
  let server: Server | undefined
  const base = () => `${options.plainHttp ? 'http' : 'https'}://127.0.0.1:${port}`

  const send = (w: Watcher, type: string, object: unknown) =>
    w.res.write(`${JSON.stringify({ type, object })}\n`)

  function record(type: EventType, object: KubeSecret): void {
    history.push({ rv, type, object })
    for (const w of watchers) {
      if (w.namespace === object.metadata.namespace && w.selector(object.metadata.labels ?? {}))
        send(w, type, object)
    }
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }

  function status(res: ServerResponse, code: number, reason: string): void {
    json(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code })
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', base())
    const auth = req.headers.authorization
    if (url.pathname === '/.well-known/openid-configuration' || url.pathname === '/openid/v1/jwks') {
      requests.push(`GET ${url.pathname}`)
      if (jwksToken !== undefined && auth !== `Bearer ${jwksToken}`) return status(res, 401, 'Unauthorized')
      if (url.pathname === '/openid/v1/jwks') return json(res, 200, { keys: [publicJwk] })
      return json(res, 200, {
        issuer: base(),
        jwks_uri: `${base()}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      })
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(url.pathname)
    if (m === null || req.method !== 'GET') return status(res, 404, 'NotFound')
    const user = users.get(auth?.replace(/^Bearer /, '') ?? '')
    if (user === undefined) return status(res, 401, 'Unauthorized')
    callers.push(user)
    const namespace = decodeURIComponent(m[1]!)
    const selector = parseSelector(url.searchParams.get('labelSelector'))
    const inScope = (s: KubeSecret) => s.metadata.namespace === namespace && selector(s.metadata.labels ?? {})
    if (url.searchParams.get('watch') !== 'true') {
      requests.push(`list ${namespace}`)
      const items = [...secrets.values()].filter(inScope)
      return json(res, 200, {
        kind: 'SecretList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(rv) },
        items,
      })
    }
    const from = Number(url.searchParams.get('resourceVersion') || rv)
    requests.push(`watch ${namespace} rv=${from}`)
    if (from < compactedAt && goneAs === 'status') return status(res, 410, 'Expired')
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    const bookmarks = url.searchParams.get('allowWatchBookmarks') === 'true'
    const w: Watcher = { namespace, selector, res, bookmarks }
    if (from < compactedAt) {
      // What the API server does for a version etcd no longer has: an ERROR event, then the end.
      send(w, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: `too old resource version: ${from} (${compactedAt})`,
        reason: 'Expired',
        code: 410,
      })
      res.end()
      return
    }
    for (const e of history)
      if (e.rv > from && e.type !== 'BOOKMARK' && inScope(e.object)) send(w, e.type, e.object)
    watchers.add(w)
    res.on('close', () => watchers.delete(w))
  }

  async function start(): Promise<void> {
    const s = options.plainHttp
      ? createHttpServer(handle)
      : createServer({ cert: tls.certPem, key: tls.keyPem }, handle)
    s.on(options.plainHttp ? 'connection' : 'secureConnection', (socket: Socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    port = (s.address() as AddressInfo).port
    server = s
  }

  async function stop(): Promise<void> {
    const s = server
    server = undefined
    if (s === undefined) return
    for (const w of watchers) w.res.destroy()
    watchers.clear()
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })
  }

  await start()
  const encode = (values: Record<string, string>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))

  return {
    get url() {
      return base()
    },
    get issuer() {
      return base()
    },
    apiToken,
    requests,
    callers,
    acceptApiToken(token, name) {
      users.set(token, name)
    },
    get watching() {
      return watchers.size
    },
    apply(namespace, name, values, labels) {
      const key = `${namespace}/${name}`
      const old = secrets.get(key)
      rv += 1
      const secret: KubeSecret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name,
          namespace,
          uid: old?.metadata.uid ?? randomUUID(),
          resourceVersion: String(rv),
          labels: labels ?? old?.metadata.labels ?? {},
          annotations: old?.metadata.annotations ?? {},
        },
        data: encode(values),
      }
      secrets.set(key, secret)
      record(old === undefined ? 'ADDED' : 'MODIFIED', secret)
      return secret
    },
    annotate(namespace, name) {
      const old = secrets.get(`${namespace}/${name}`)
      if (old === undefined) throw new Error(`no secret ${namespace}/${name}`)
      rv += 1
      const secret: KubeSecret = {
        ...old,
        metadata: {
          ...old.metadata,
          resourceVersion: String(rv),
          annotations: { ...old.metadata.annotations, touched: String(rv) },
        },
      }
      secrets.set(`${namespace}/${name}`, secret)
      record('MODIFIED', secret)
      return secret
    },
    remove(namespace, name) {
      const old = secrets.get(`${namespace}/${name}`)
      if (old === undefined) return
      secrets.delete(`${namespace}/${name}`)
      rv += 1
      record('DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } })
    },
    bookmark() {
      for (const w of watchers) {
        if (w.bookmarks)
          send(w, 'BOOKMARK', { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } })
      }
    },
    compact(as = 'event') {
      compactedAt = rv
      goneAs = as
    },
    cutStreams() {
      for (const w of watchers) w.res.end()
      watchers.clear()
    },
    stop,
    start,
    async token(o = {}) {
      const namespace = o.namespace ?? 'db-watch'
      const sa = o.serviceAccount ?? 'vault-relay-watch'
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({
        'kubernetes.io': {
          namespace,
          serviceaccount: { name: sa, uid: randomUUID() },
          pod: { name: `${sa}-0`, uid: randomUUID() },
        },
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(base())
        .setSubject(`system:serviceaccount:${namespace}:${sa}`)
        .setAudience(o.audience ?? 'vault-relay')
        .setIssuedAt(now - 5)
        .setNotBefore(now - 5)
        .setExpirationTime(now + (o.expiresIn ?? 600))
        .sign(o.foreignKey ? foreign.privateKey : privateKey)
    },
    requireTokenForJwks(token) {
      jwksToken = token
    },
    close: stop,
  }
}

/**
 * A jwt source's `verify` block for the tokens `token()` signs by default (the watch notifier's service
 * account, audience vault-relay, as a Bearer header), trusting `issuers`; `extra` adds to the block.
 */
export function kubernetesVerifyConfig(
  issuers: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): VerifyConfig {
  return verifySchema.parse({
    type: 'jwt',
    in: 'header',
    audience: 'vault-relay',
    algorithms: ['RS256'],
    kubernetes: { serviceAccount: 'db-watch:vault-relay-watch', issuers },
    ...extra,
  })
}
