// The real relay process configured from the shipped AWS examples, with fake Secrets Manager, SNS and RWX.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parse, stringify } from 'yaml'
import { type FakeRwx, startFakeRwx } from './fake-rwx.js'
import { awsSdkEnv, type FakeSecretsManager, startFakeSecretsManager } from './fake-secrets-manager.js'
import { type FakeSns, issueSigner, startFakeSns, type TestSigner } from './fake-sns.js'
import { type RelayProcess, startRelayProcess } from './relay-process.js'
import { until } from './until.js'

/** A secret of an event as the admin API shows it. */
export interface AdminSecret {
  name: string
  status: string
  lastError: string | null
}

/** A running relay and its fakes; `values` lists every value the fake Secrets Manager ever held. */
export interface AwsRelay {
  relay: RelayProcess
  /** The relay's working directory (its store is under `data/`). */
  dir: string
  sm: FakeSecretsManager
  rwx: FakeRwx
  sns: FakeSns
  signer: TestSigner
  topicArn: string
  /** ARNs of the example configs' DB_SECRET_ARN (a JSON secret) and API_TOKEN_SECRET_ARN (a string). */
  db: string
  partner: string
  /** The RWX token; never to appear in the relay's output. */
  token: string
  values: string[]
  /** Records `value` as one the relay must never write down; returns it. */
  remember(value: string): string
  /** POSTs an event as an EventBridge API destination does (with the connection's API key). */
  post(source: string, event: unknown): Promise<{ status: number; body: unknown }>
  /** The admin view of an event's secrets, once all of them have `status`; also the raw answer. */
  settled(source: string, eventId: string, status: string): Promise<{ secrets: AdminSecret[]; text: string }>
  close(): Promise<void>
}

const ADMIN = `admin-${randomUUID()}`
const API_KEY = `eb-key-${randomUUID()}`

/**
 * One config from shipped files: the sources of the three examples/aws configs and the SNS source of
 * docs/aws.md, as written (the relay expands their `${VAR}`s), plus small backoffs so that retries and
 * AWSPENDING re-checks take milliseconds. The SNS source keeps its certUrlPattern: the relay fetches
 * genuine AWS URLs, which sns-preload.mjs routes to the loopback fake (undici's global dispatcher).
 */
function configFrom(): string {
  const files = ['secret-label-updated.yaml', 'put-secret-value.yaml', 'rotation-succeeded.yaml']
  const examples = files.map((f) => parse(readFileSync(join('examples/aws', f), 'utf8')))
  const docs = readFileSync('docs/aws.md', 'utf8')
  const block = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].find((m) => m[1]!.includes('type: aws-sns'))
  if (block === undefined) throw new Error('docs/aws.md has no aws-sns source')
  const snsSource = parse(block[1]!).sources[0]
  return stringify({
    ...examples[0],
    sources: [...examples.flatMap((e) => e.sources), snsSource],
    delivery: { backoffBaseMs: 20, backoffMaxMs: 150, batchWindowMs: 5, maxAttempts: 1000 },
  })
}

/** Starts the fakes, two secrets in eu-west-1, and the relay (LOG_LEVEL=trace) pointed at them. */
export async function startAwsRelay(): Promise<AwsRelay> {
  const [sm, rwx, sns, signer] = await Promise.all([
    startFakeSecretsManager(),
    startFakeRwx({ token: `rwx-token-${randomUUID()}` }),
    startFakeSns(),
    issueSigner(),
  ])
  const values: string[] = []
  const remember = (value: string) => {
    values.push(value)
    return value
  }
  const first = remember(JSON.stringify({ username: 'app', password: `first-${randomUUID()}` }))
  const db = sm.create('prod/app/db', first, 'eu-west-1').arn
  const partner = sm.create('prod/partner-token', remember(`partner-${randomUUID()}`), 'eu-west-1').arn
  const topicArn = 'arn:aws:sns:eu-west-1:111122223333:secret-rotations'
  const dir = mkdtempSync(join(tmpdir(), 'relay-aws-e2e-'))
  const relay = await startRelayProcess(dir, configFrom(), {
    NODE_OPTIONS: `--import=${pathToFileURL(resolve('test/support/sns-preload.mjs')).href}`,
    FAKE_SNS_BASE: sns.base,
    RWX_API_URL: rwx.url,
    RWX_ACCESS_TOKEN: rwx.token,
    EVENTBRIDGE_API_KEY: API_KEY,
    DB_SECRET_ARN: db,
    API_TOKEN_SECRET_ARN: partner,
    SNS_TOPIC_ARN: topicArn,
    RELAY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'trace',
    ...awsSdkEnv(sm, dir),
  })

  return {
    relay,
    dir,
    sm,
    rwx,
    sns,
    signer,
    topicArn,
    db,
    partner,
    token: rwx.token,
    values,
    remember,
    async post(source, event) {
      const res = await fetch(`${relay.url}/hooks/${source}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'x-relay-api-key': API_KEY },
        body: JSON.stringify(event),
      })
      return { status: res.status, body: await res.json() }
    },
    async settled(source, eventId, status) {
      let text = ''
      let secrets: AdminSecret[] = []
      await until(async () => {
        const res = await fetch(`${relay.url}/admin/events/${source}/${eventId}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        })
        text = await res.text()
        secrets = res.status === 200 ? (JSON.parse(text).secrets as AdminSecret[]) : []
        return secrets.length > 0 && secrets.every((s) => s.status === status)
      }, `event ${eventId} to be ${status}`)
      return { secrets, text }
    },
    async close() {
      if (relay.child.exitCode === null && relay.child.signalCode === null) await relay.kill('SIGKILL')
      await Promise.all([sm.close(), rwx.close(), sns.close()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
