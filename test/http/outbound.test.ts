// Outbound HTTP honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY (through the config): RWX, JWKS, SNS and AWS go via a real proxy.
import { createHmac, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createAwsResolver } from '../../src/delivery/aws-secrets.js'
import { createRwxClient } from '../../src/delivery/rwx-client.js'
import { createDispatcher } from '../../src/http/outbound.js'
import { parseConfig } from '../../src/load-config.js'
import { createVerifier } from '../../src/verify/registry.js'
import { type ConnectProxy, startConnectProxy } from '../support/connect-proxy.js'
import { kubernetesVerifyConfig, startFakeKubeApi } from '../support/fake-kube-api.js'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import { type FakeSecretsManager, startFakeSecretsManager } from '../support/fake-secrets-manager.js'
import { type FakeSns, issueSigner, signMessage, startFakeSns } from '../support/fake-sns.js'
import { startRelayProcess } from '../support/relay-process.js'
import { generateSigningKey, makeJwt, startJwksServer } from '../support/signers.js'
import { issueTlsCertificate } from '../support/x509.js'

const TOKEN = `rwx-token-${randomUUID()}`
let proxy: ConnectProxy
let rwx: FakeRwx
beforeAll(async () => {
  proxy = await startConnectProxy()
  rwx = await startFakeRwx({ token: TOKEN })
})
afterAll(async () => {
  await rwx.close()
  await proxy.close()
})
beforeEach(() => {
  proxy.tunnels.length = 0
})

/** The `proxy` block parsed from environment variables, as the relay gets it. */
const proxyFromEnv = (env: Record<string, string>) => parseConfig('{}', env).proxy
const hostOf = (url: string) => new URL(url).host

/** A TCP server that takes connections and never says a word: a TLS handshake with it never ends. */
async function startSilentServer() {
  const sockets: Socket[] = []
  const server = createServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Runs `fn` with the AWS SDK pointed at `endpoint` with test credentials (its documented settings), restored after. */
async function withAwsEnv<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
  const settings = {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
    AWS_REGION: 'us-east-1',
  }
  const saved = Object.keys(settings).map((k) => [k, process.env[k]] as const)
  Object.assign(process.env, settings)
  try {
    return await fn()
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

async function setSecret(env: Record<string, string>) {
  const dispatcher = createDispatcher(proxyFromEnv(env))
  const client = createRwxClient({
    url: rwx.url,
    token: () => TOKEN,
    userAgent: 'test',
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
    dispatcher,
  })
  try {
    return await client.setSecrets('ci', [{ name: 'VIA_PROXY', secret: `v-${randomUUID()}` }])
  } finally {
    await dispatcher.close()
  }
}

describe('proxy settings from the environment', () => {
  it('reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY, upper or lower case', () => {
    expect(proxyFromEnv({ https_proxy: 'http://p:3128', NO_PROXY: 'internal' })).toEqual({
      httpsProxy: 'http://p:3128',
      noProxy: 'internal',
    })
    expect(proxyFromEnv({ HTTP_PROXY: 'http://q:8080' })).toEqual({ httpProxy: 'http://q:8080' })
    expect(proxyFromEnv({})).toEqual({})
  })

  it('refuses a proxy that is not a URL', () => {
    expect(() => proxyFromEnv({ HTTPS_PROXY: 'not a url' })).toThrow(/proxy\.httpsProxy/)
  })
})

describe('through a real CONNECT proxy', () => {
  it('sends RWX requests through the proxy', async () => {
    const result = await setSecret({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url })
    expect(result.kind).toBe('ok')
    expect(proxy.tunnels).toEqual([hostOf(rwx.url)])
  })

  it('goes direct for a host in NO_PROXY', async () => {
    const result = await setSecret({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' })
    expect(result.kind).toBe('ok')
    expect(proxy.tunnels).toEqual([])
  })

  it('keeps a dispatcher’s connect timeout for the TLS through the tunnel', async () => {
    const silent = await startSilentServer()
    const dispatcher = createDispatcher(proxyFromEnv({ HTTPS_PROXY: proxy.url }), {
      connect: { timeout: 300 },
    })
    try {
      const started = Date.now()
      await expect(request(silent.url, { dispatcher })).rejects.toMatchObject({
        code: 'UND_ERR_CONNECT_TIMEOUT',
      })
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(proxy.tunnels).toEqual([hostOf(silent.url)])
    } finally {
      await dispatcher.close()
      await silent.close()
    }
  })

  it('fetches a JWKS through the proxy', async () => {
    const key = await generateSigningKey('ES256', 'k1')
    const jwks = await startJwksServer([key.publicJwk])
    const dispatcher = createDispatcher(proxyFromEnv({ HTTP_PROXY: proxy.url }))
    try {
      const config = verifySchema.parse({
        type: 'jwt',
        jwksUrl: jwks.url,
        issuer: 'iss',
        audience: 'aud',
        algorithms: ['ES256'],
      })
      const verifier = createVerifier(config, { dispatcher })
      const now = Date.now()
      const token = await makeJwt(
        { iss: 'iss', aud: 'aud', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 300 },
        key,
      )
      await expect(verifier.verify({ headers: {}, body: Buffer.from(token), now })).resolves.toBeDefined()
      expect(proxy.tunnels).toEqual([hostOf(jwks.url)])
    } finally {
      await dispatcher.close()
      await jwks.close()
    }
  })

  it('fetches the SNS signing certificate through the proxy (a CONNECT to the AWS host)', async () => {
    const sns: FakeSns = await startFakeSns()
    const dispatcher = createDispatcher(proxyFromEnv({ HTTP_PROXY: proxy.url }))
    try {
      const signer = await issueSigner()
      const certUrl = sns.serve('/SimpleNotificationService-test.pem', signer.pem)
      const topic = 'arn:aws:sns:eu-west-1:111122223333:rotations'
      const config = verifySchema.parse({
        type: 'aws-sns',
        topicArns: [topic],
      })
      const verifier = createVerifier(config, { dispatcher })
      const msg = signMessage(
        {
          Type: 'Notification',
          MessageId: randomUUID(),
          TopicArn: topic,
          Message: '{"rotated":true}',
          Timestamp: new Date().toISOString(),
        },
        signer,
        certUrl,
        '2',
      )
      await expect(
        verifier.verify({
          headers: { 'x-amz-sns-message-type': 'Notification' },
          body: Buffer.from(JSON.stringify(msg)),
          now: Date.now(),
        }),
      ).rejects.toMatchObject({ message: 'signing certificate unavailable' })
      // The certificate URL must be https on AWS's host, so the GET asks the proxy for a tunnel there
      // (this test proxy tunnels to loopback only and refuses it: nothing leaves the machine).
      expect(proxy.tunnels).toEqual([`${new URL(certUrl).hostname}:443`])
    } finally {
      await dispatcher.close()
      await sns.close()
    }
  })

  it('reads AWS Secrets Manager through the proxy', async () => {
    const sm: FakeSecretsManager = await startFakeSecretsManager()
    const resolver = createAwsResolver({ proxy: proxyFromEnv({ HTTP_PROXY: proxy.url }) })
    try {
      const { arn } = sm.create('app/db', 'hunter2-via-proxy')
      const resolved = await withAwsEnv(sm.url, () => resolver.resolve({ secretId: arn }))
      expect(resolved).toEqual({ kind: 'value', value: 'hunter2-via-proxy' })
      expect(proxy.tunnels).toEqual([hostOf(sm.url)])
    } finally {
      resolver.close()
      await sm.close()
    }
  })

  it('keeps the 5 s connect timeout of AWS Secrets Manager behind the proxy (not undici’s 10 s)', async () => {
    const silent = await startSilentServer()
    const resolver = createAwsResolver({ proxy: proxyFromEnv({ HTTPS_PROXY: proxy.url }) })
    try {
      const started = Date.now()
      const resolved = await withAwsEnv(silent.url, () => resolver.resolve({ secretId: 'app/db' }))
      const elapsed = Date.now() - started
      expect(resolved).toEqual({ kind: 'retry', error: expect.stringContaining('UND_ERR_CONNECT_TIMEOUT') })
      expect(elapsed).toBeGreaterThanOrEqual(4_500)
      expect(elapsed).toBeLessThan(8_000)
      expect(proxy.tunnels).toEqual([hostOf(silent.url)])
    } finally {
      resolver.close()
      await silent.close()
    }
  })

  it('fetches a Kubernetes issuer’s keys through the proxy, trusting its own CA file', async () => {
    const tls = await issueTlsCertificate()
    const kube = await startFakeKubeApi(tls)
    const dir = mkdtempSync(join(tmpdir(), 'relay-proxy-ca-'))
    writeFileSync(join(dir, 'ca.crt'), tls.caPem)
    const config = kubernetesVerifyConfig([{ issuer: kube.issuer, caFile: join(dir, 'ca.crt') }])
    const verifier = createVerifier(config, { proxy: proxyFromEnv({ HTTPS_PROXY: proxy.url }) })
    try {
      const token = await kube.token()
      await expect(
        verifier.verify({
          headers: { authorization: `Bearer ${token}` },
          body: Buffer.from('{}'),
          now: Date.now(),
        }),
      ).resolves.toMatchObject({ payload: {} })
      expect(kube.requests).toContain('GET /openid/v1/jwks')
      expect(new Set(proxy.tunnels)).toEqual(new Set([hostOf(kube.url)]))
    } finally {
      verifier.close?.()
      await kube.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the real binary', () => {
  it('delivers to RWX through HTTP_PROXY from its environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-proxy-'))
    const secret = `hmac-${randomUUID()}`
    const relay = await startRelayProcess(
      dir,
      `
rwx: { url: "${rwx.url}" }
store: sqlite:./relay.db
sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: ["${secret}"] }
    rules:
      - secrets: [{ vault: ci, name: "{{ /name }}", value: /value }]
`,
      { RWX_ACCESS_TOKEN: TOKEN, HTTP_PROXY: proxy.url },
    )
    try {
      const body = JSON.stringify({ name: 'BINARY_VIA_PROXY', value: `v-${randomUUID()}` })
      const res = await fetch(`${relay.url}/hooks/ci`, {
        method: 'POST',
        headers: { 'x-sig': createHmac('sha256', secret).update(body).digest('hex') },
        body,
      })
      expect(res.status).toBe(202)
      await rwx.waitFor((writes) => writes.some((w) => w.name === 'BINARY_VIA_PROXY'))
      expect(proxy.tunnels).toContain(hostOf(rwx.url))
    } finally {
      await relay.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
