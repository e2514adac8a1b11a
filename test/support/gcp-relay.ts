// The real relay process configured from the shipped Google Cloud example, with a Google-like issuer
// signing push tokens, the Secret Manager stand-in (the real client over REST) and the RWX stand-in.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { type FakeGoogleSecrets, startFakeGoogleSecrets } from './fake-google-secrets.js'
import { type FakeGoogleIssuer, push, pushEnvelope, startGoogleIssuer, versionEvent } from './fake-pubsub.js'
import { type FakeRwx, startFakeRwx } from './fake-rwx.js'
import { type RelayProcess, startRelayProcess } from './relay-process.js'
import { until } from './until.js'

export interface GcpRelay {
  relay: RelayProcess
  dir: string
  google: FakeGoogleIssuer
  sm: FakeGoogleSecrets
  rwx: FakeRwx
  audience: string
  pusher: string
  /** GCP_DB_SECRET and GCP_API_SECRET of the example. */
  db: string
  api: string
  admin: string
  /** The relay's config file and the environment it was started with (for `check` and `send`). */
  configFile: string
  env: Record<string, string>
  /** Values and tokens that must never appear in the relay's output, store, metrics or answers. */
  values: string[]
  remember(value: string): string
  /** Signs a token for `audience`/`pusher` (or the given claims) and pushes `message`. */
  push(
    message: Parameters<typeof pushEnvelope>[0],
    claims?: Record<string, unknown>,
  ): Promise<{ status: number; body: unknown }>
  /** Adds a version holding `value` and pushes its SECRET_VERSION_ADD; returns the version and answer. */
  addVersion(
    secret: string,
    value: string,
    publishTime?: Date,
  ): Promise<{ version: number; answer: { status: number; body: unknown } }>
  /** The admin API's answer for a path (text, for greps). */
  adminGet(path: string): Promise<string>
  close(): Promise<void>
}

const ADMIN = `admin-${randomUUID()}`

/** The example's config, with the stand-in endpoint and small backoffs. */
function configFrom(endpoint: string): string {
  const example = parse(readFileSync('examples/gcp/secret-manager-pubsub.yaml', 'utf8'))
  return stringify({
    ...example,
    gcp: { endpoint },
    delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, maxAttempts: 1000 },
  })
}

export async function startGcpRelay(): Promise<GcpRelay> {
  const [google, sm, rwx] = await Promise.all([
    startGoogleIssuer(),
    startFakeGoogleSecrets(),
    startFakeRwx({ token: `rwx-token-${randomUUID()}` }),
  ])
  const values: string[] = [rwx.token]
  const remember = (value: string) => {
    values.push(value)
    return value
  }
  const dir = mkdtempSync(join(tmpdir(), 'relay-gcp-e2e-'))
  const audience = 'https://relay.example.com/hooks/gcp-secrets'
  const pusher = 'relay-push@demo-project.iam.gserviceaccount.com'
  const db = 'projects/123456789012/secrets/db-credentials'
  const api = 'projects/123456789012/secrets/partner-token'
  const env: Record<string, string> = {
    RWX_API_URL: rwx.url,
    RWX_ACCESS_TOKEN: rwx.token,
    PUBSUB_AUDIENCE: audience,
    PUSH_SERVICE_ACCOUNT: pusher,
    GOOGLE_JWKS_URL: google.jwksUrl,
    GCP_DB_SECRET: db,
    GCP_API_SECRET: api,
    // Application Default Credentials, as a user sets them: a service-account key file.
    GOOGLE_APPLICATION_CREDENTIALS: sm.keyFile(dir),
    // Nothing may reach Google: no metadata server lookups either.
    GCE_METADATA_HOST: '127.0.0.1:9',
    NO_GCE_CHECK: 'true',
    RELAY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'trace',
  }
  const relay = await startRelayProcess(dir, configFrom(sm.url), env)
  const sign = async (claims: Record<string, unknown> = {}) =>
    remember(await google.token({ aud: audience, email: pusher, ...claims }))
  const self: GcpRelay = {
    relay,
    dir,
    google,
    sm,
    rwx,
    audience,
    pusher,
    db,
    api,
    admin: ADMIN,
    configFile: join(dir, 'relay.yaml'),
    env,
    values,
    remember,
    async push(message, claims) {
      return push(`${relay.url}/hooks/gcp-secrets`, pushEnvelope(message), await sign(claims))
    },
    async addVersion(secret, value, publishTime) {
      const version = sm.add(secret, remember(value))
      const answer = await self.push({
        ...versionEvent(secret, version),
        ...(publishTime ? { publishTime } : {}),
      })
      return { version, answer }
    },
    async adminGet(path) {
      const res = await fetch(`${relay.url}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      return res.text()
    },
    async close() {
      if (relay.child.exitCode === null && relay.child.signalCode === null) await relay.kill('SIGKILL')
      await Promise.all([google.close(), sm.close(), rwx.close()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return self
}

/** Waits until RWX holds `value` under production/`name`. */
export async function deliveredTo(rwx: FakeRwx, name: string, value: string): Promise<void> {
  await until(() => rwx.secrets('production').get(name)?.secret === value, `${name} to hold the new value`)
}
