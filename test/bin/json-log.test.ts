// The relay's output is JSON lines only, even where the AWS SDK warns (NodeVersionSupportWarning on Node
// < 22) or logs: a trace-level run of the real binary fetching a value from a fake Secrets Manager.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeRwx, startFakeRwx } from '../support/fake-rwx.js'
import {
  awsSdkEnv,
  type FakeSecretsManager,
  startFakeSecretsManager,
} from '../support/fake-secrets-manager.js'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.js'

const KEY = `json-log-key-${randomUUID()}`
const VALUE = `json-log-value-${randomUUID()}`
const dir = mkdtempSync(join(tmpdir(), 'relay-json-log-'))
let sm: FakeSecretsManager
let rwx: FakeRwx
let relay: RelayProcess

beforeAll(async () => {
  ;[sm, rwx] = await Promise.all([startFakeSecretsManager(), startFakeRwx({ token: `rwx-${randomUUID()}` })])
  const { arn } = sm.create('prod/json-log', VALUE, 'us-east-1')
  relay = await startRelayProcess(
    dir,
    `sources:
  - id: aws
    verify: { type: api-key, header: x-api-key, keys: ["${KEY}"] }
    rules:
      - when: {}
        secrets:
          - { vault: v, name: FROM_AWS, value: { awsSecretsManager: { secretId: "${arn}" } } }
`,
    {
      RWX_API_URL: rwx.url,
      RWX_ACCESS_TOKEN: rwx.token,
      LOG_LEVEL: 'trace',
      ...awsSdkEnv(sm, dir),
    },
  )
})
afterAll(async () => {
  await relay?.kill('SIGKILL')
  await Promise.all([sm?.close(), rwx?.close()])
  rmSync(dir, { recursive: true, force: true })
})

describe('the relay log with the AWS SDK in use', { timeout: 60_000 }, () => {
  it('holds only JSON lines, the SDK logging through it, and never the value', async () => {
    const res = await fetch(`${relay.url}/hooks/aws`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'evt-1' }),
    })
    expect(res.status).toBe(202)
    await rwx.waitFor(() => rwx.secrets('v').get('FROM_AWS')?.secret === VALUE, 15_000)
    expect(await relay.kill('SIGTERM')).toBe(0)

    const lines = relay
      .output()
      .split('\n')
      .filter((l) => l.trim() !== '')
    const notJson = lines.filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object'
      } catch {
        return true
      }
    })
    expect(notJson).toEqual([])
    const sdk = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.component === 'aws-sdk')
    // Its call log (info, written at debug) on any Node; the Node version warning where Node is < 22.
    expect(sdk.some((l) => l.command === 'GetSecretValueCommand')).toBe(true)
    if (Number(process.versions.node.split('.')[0]) < 22)
      expect(sdk).toContainEqual(expect.objectContaining({ level: 40, warning: 'NodeVersionSupportWarning' }))
    expect(relay.output()).not.toContain(VALUE)
    expect(relay.output()).not.toContain(KEY)
  })
})
