// A local Microsoft Entra and Key Vault on https (a test CA): token endpoint, OpenID metadata, the JWKS
// Event Grid's tokens are checked with, and Key Vault's secrets API with its 401 challenge.
import { randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { generateSigningKey, makeJwt, type SigningKey } from './signers.js'
import { issueTlsCertificate } from './x509.js'

/** One version of a Key Vault secret. */
interface Version {
  id: string
  value: string
  created: number
  enabled: boolean
}

export interface FakeAzure {
  /** `https://127.0.0.1:<port>`: the authority host, and the vault's URL. */
  base: string
  /** The test CA's certificate (PEM), for NODE_EXTRA_CA_CERTS. */
  caPem: string
  tenantId: string
  clientId: string
  /** The client secret the credential must present; never to appear in the relay's output. */
  clientSecret: string
  /** Entra's signing key for Event Grid tokens (RS256). */
  entraKey: SigningKey
  /** Access tokens issued to the relay; never to appear in its output. */
  readonly issued: string[]
  /** Secret reads: name, version asked for (undefined: the current one), whether a token came with it. */
  readonly reads: { name: string; version: string | undefined; authorized: boolean }[]
  /** Adds a version (created now, or at `created` epoch seconds); returns its id. */
  addVersion(name: string, value: string, created?: number): string
  /** An Entra token for Event Grid's deliveries, claims overridable (e.g. `aud`, `appid`, `exp`). */
  eventGridToken(audience: string, claims?: Record<string, unknown>, key?: SigningKey): Promise<string>
  close(): Promise<void>
}

const EVENT_GRID_APP = '4962773b-9cdb-44cf-a8bf-237846a00ab7'

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** Starts the stand-in on 127.0.0.1 with a fresh CA, tenant, client and Entra key. */
export async function startFakeAzure(): Promise<FakeAzure> {
  const tls = await issueTlsCertificate()
  const entraKey = await generateSigningKey('RS256', `entra-${randomUUID()}`)
  const tenantId = randomUUID()
  const clientId = randomUUID()
  const clientSecret = `client-secret-${randomBytes(12).toString('hex')}`
  const secrets = new Map<string, Version[]>()
  const issued: string[] = []
  const reads: FakeAzure['reads'] = []
  let base = ''

  const secretBody = (name: string, v: Version) => ({
    value: v.value,
    id: `${base}/secrets/${name}/${v.id}`,
    attributes: { enabled: v.enabled, created: v.created, updated: v.created, recoveryLevel: 'Recoverable' },
  })

  function keyVault(req: IncomingMessage, res: ServerResponse, path: string[]) {
    const [name = '', version] = path
    const auth = req.headers.authorization ?? ''
    const authorized = issued.some((t) => auth === `Bearer ${t}`)
    reads.push({ name, version, authorized })
    if (!authorized) {
      const challenge = `Bearer authorization="${base}/${tenantId}", resource="https://vault.azure.net"`
      return json(
        res,
        401,
        { error: { code: 'Unauthorized', message: 'no token' } },
        { 'www-authenticate': challenge },
      )
    }
    const versions = secrets.get(name) ?? []
    const found =
      version === undefined
        ? versions.reduce<Version | undefined>(
            (a, v) => (a === undefined || v.created >= a.created ? v : a),
            undefined,
          )
        : versions.find((v) => v.id === version)
    if (found === undefined)
      return json(res, 404, { error: { code: 'SecretNotFound', message: 'not found' } })
    return json(res, 200, secretBody(name, found))
  }

  function entra(req: IncomingMessage, res: ServerResponse, url: URL, body: string) {
    const v2 = `${base}/${tenantId}/v2.0`
    if (url.pathname.endsWith('/.well-known/openid-configuration'))
      return json(res, 200, {
        issuer: v2,
        token_endpoint: `${base}/${tenantId}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/${tenantId}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${base}/${tenantId}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`,
      })
    if (url.pathname === `/${tenantId}/discovery/v2.0/keys`)
      return json(res, 200, { keys: [entraKey.publicJwk] })
    if (url.pathname === `/${tenantId}/oauth2/v2.0/token` && req.method === 'POST') {
      const form = new URLSearchParams(body)
      if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret)
        return json(res, 401, { error: 'invalid_client', error_description: 'bad client' })
      const token = `kv-access-${randomBytes(16).toString('hex')}`
      issued.push(token)
      return json(res, 200, {
        token_type: 'Bearer',
        expires_in: 3600,
        ext_expires_in: 3600,
        access_token: token,
      })
    }
    return json(res, 404, { error: 'not_found' })
  }

  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base)
      const parts = url.pathname.split('/').filter((p) => p !== '')
      if (parts[0] === 'secrets') return keyVault(req, res, parts.slice(1))
      return entra(req, res, url, Buffer.concat(chunks).toString('utf8'))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    base,
    caPem: tls.caPem,
    tenantId,
    clientId,
    clientSecret,
    entraKey,
    issued,
    reads,
    addVersion(name, value, created = Math.floor(Date.now() / 1000)) {
      const id = randomBytes(16).toString('hex')
      const versions = secrets.get(name) ?? []
      versions.push({ id, value, created, enabled: true })
      secrets.set(name, versions)
      return id
    },
    async eventGridToken(audience, claims = {}, key = entraKey) {
      const now = Math.floor(Date.now() / 1000)
      return makeJwt(
        {
          aud: audience,
          iss: `https://sts.windows.net/${tenantId}/`,
          iat: now,
          nbf: now,
          exp: now + 3600,
          appid: EVENT_GRID_APP,
          roles: ['AzureEventGridSecureWebhookSubscriber'],
          tid: tenantId,
          ver: '1.0',
          ...claims,
        },
        key,
      )
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
