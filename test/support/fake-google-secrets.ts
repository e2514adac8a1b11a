// A Secret Manager stand-in on loopback speaking the REST API the real client's fallback transport calls
// (`versions/*:access`, `versions/*` get), and a service-account key file whose self-signed JWTs it checks.
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { decodeJwt, importSPKI, jwtVerify } from 'jose'

type State = 'ENABLED' | 'DISABLED' | 'DESTROYED'
interface Version {
  number: number
  data: Buffer
  createTime: Date
  state: State
}

export interface FakeGoogleSecrets {
  /** `http://127.0.0.1:PORT`: the relay's `gcp.endpoint`. */
  url: string
  /** The service account's email (the key file's `client_email`). */
  email: string
  /** Writes the service-account key file into `dir`; returns its path. */
  keyFile(dir: string): string
  /**
   * Writes a workload identity federation (`external_account`) file into `dir` whose subject token is the
   * file `tokenFile` (a Kubernetes service-account token), exchanged at this stand-in's STS endpoint.
   */
  externalAccountFile(dir: string, tokenFile: string, subjectToken: string): string
  /** Subject tokens the STS endpoint was given. */
  readonly exchanged: string[]
  /** Adds a version (numbered in order, as Google does); returns its number. */
  add(secret: string, value: string | Buffer, createTime?: Date): number
  setState(secret: string, version: number, state: State): void
  /** Points a named alias at a version. */
  alias(secret: string, alias: string, version: number): void
  /** Secrets the service account may not read (403 PERMISSION_DENIED). */
  deny(secret: string): void
  /** Every request: method, path, whether its bearer token verified. */
  readonly requests: { method: string; path: string; authorized: boolean }[]
  /** Every payload an `:access` answered, as on the wire (base64): a value in that form, for leak checks. */
  readonly payloads: string[]
  close(): Promise<void>
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body))
}

const STATUS: Record<number, string> = {
  400: 'FAILED_PRECONDITION',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
}
const problem = (res: ServerResponse, code: number, message: string) =>
  send(res, code, { error: { code, message, status: STATUS[code] } })

const timestamp = (d: Date) => d.toISOString()

/** Starts the stand-in with one service account (an RSA key it generates). */
export async function startFakeGoogleSecrets(): Promise<FakeGoogleSecrets> {
  const secrets = new Map<string, Version[]>()
  const aliases = new Map<string, Map<string, number>>()
  const denied = new Set<string>()
  const requests: FakeGoogleSecrets['requests'] = []
  const payloads: string[] = []
  const exchanged: string[] = []
  const subjects = new Set<string>()
  const accessTokens = new Set<string>()
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const email = `relay-reader@demo-project.iam.gserviceaccount.com`
  const keyId = randomUUID().replace(/-/g, '')
  const spki = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'RS256')

  /** The client signs its own JWT with the key file (self-signed JWT, no token exchange). */
  async function authorized(req: IncomingMessage): Promise<boolean> {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) return false
    if (accessTokens.has(token)) return true
    try {
      const { payload, protectedHeader } = await jwtVerify(token, spki, { issuer: email })
      return protectedHeader.kid === keyId && payload.sub === email && decodeJwt(token).exp !== undefined
    } catch {
      return false
    }
  }

  function find(secret: string, id: string): Version | undefined {
    const versions = secrets.get(secret) ?? []
    const number =
      id === 'latest'
        ? versions.at(-1)?.number
        : /^[0-9]+$/.test(id)
          ? Number(id)
          : aliases.get(secret)?.get(id)
    return versions.find((v) => v.number === number)
  }

  /** STS token exchange (RFC 8693), as google-auth-library's identity pool client calls it. */
  async function exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = ''
    for await (const chunk of req) body += chunk
    const form = new URLSearchParams(body)
    const subject = form.get('subject_token') ?? ''
    exchanged.push(subject)
    if (
      form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange' ||
      !subjects.has(subject)
    )
      return send(res, 400, { error: 'invalid_grant', error_description: 'bad subject token' })
    const accessToken = `ya29.fake-${randomUUID()}`
    accessTokens.add(accessToken)
    send(res, 200, {
      access_token: accessToken,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 3600,
    })
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method === 'POST' && url.pathname === '/v1/token') return exchange(req, res)
      const ok = await authorized(req)
      requests.push({ method: req.method ?? '', path: url.pathname, authorized: ok })
      if (!ok) return problem(res, 401, 'Request had invalid authentication credentials.')
      const m =
        /^\/v1\/(projects\/[^/]+\/(?:locations\/[^/]+\/)?secrets\/[^/]+)\/versions\/([^/:]+)(:access)?$/.exec(
          url.pathname,
        )
      if (req.method !== 'GET' || m === null) return problem(res, 404, 'Not found')
      const [, secret = '', id = '', access] = m
      if (denied.has(secret)) return problem(res, 403, `Permission 'secretmanager.versions.access' denied`)
      const version = find(secret, id)
      if (version === undefined)
        return problem(res, 404, `Secret Version [${secret}/versions/${id}] not found.`)
      const name = `${secret}/versions/${version.number}`
      if (access === undefined) {
        return send(res, 200, {
          name,
          createTime: timestamp(version.createTime),
          state: version.state,
          etag: `"${version.number}"`,
        })
      }
      if (version.state !== 'ENABLED')
        return problem(res, 400, `Secret Version [${name}] is in ${version.state} state.`)
      const data = version.data.toString('base64')
      payloads.push(data)
      send(res, 200, { name, payload: { data, dataCrc32c: '0' } })
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    email,
    requests,
    payloads,
    exchanged,
    externalAccountFile(dir, tokenFile, subjectToken) {
      subjects.add(subjectToken)
      writeFileSync(tokenFile, subjectToken)
      const path = join(dir, 'gcp-external-account.json')
      const config = {
        type: 'external_account',
        audience:
          '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/k8s/providers/cluster',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: `${url}/v1/token`,
        credential_source: { file: tokenFile },
      }
      writeFileSync(path, JSON.stringify(config))
      return path
    },
    keyFile(dir) {
      const path = join(dir, 'gcp-service-account.json')
      const key = {
        type: 'service_account',
        project_id: 'demo-project',
        private_key_id: keyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: email,
        client_id: '100000000000000000001',
        // Never used for a self-signed JWT; on loopback all the same, so nothing could go out.
        token_uri: `${url}/token`,
      }
      writeFileSync(path, JSON.stringify(key), { mode: 0o600 })
      return path
    },
    add(secret, value, createTime = new Date()) {
      const versions = secrets.get(secret) ?? []
      const number = (versions.at(-1)?.number ?? 0) + 1
      versions.push({ number, data: Buffer.from(value), createTime, state: 'ENABLED' })
      secrets.set(secret, versions)
      return number
    },
    setState(secret, number, state) {
      const v = (secrets.get(secret) ?? []).find((x) => x.number === number)
      if (v !== undefined) v.state = state
    },
    alias(secret, alias, number) {
      const map = aliases.get(secret) ?? new Map<string, number>()
      map.set(alias, number)
      aliases.set(secret, map)
    },
    deny: (secret) => void denied.add(secret),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
