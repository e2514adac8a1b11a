// The shipped Google Cloud example: it loads with its documented variables, and each Secret Manager
// event, unwrapped as the google-pubsub verifier unwraps it, maps to the right reference or to nothing.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/load-config.js'
import { compileRules } from '../../src/mapping/rules.js'
import { unwrapPush } from '../../src/verify/google-pubsub.js'
import { type PushMessage, pushEnvelope, versionEvent } from '../support/fake-pubsub.js'

const DB = 'projects/123456789012/secrets/db-credentials'
const API = 'projects/123456789012/secrets/partner-token'
const ENV = {
  RWX_ACCESS_TOKEN: 'rwx-test-token',
  PUBSUB_AUDIENCE: 'https://relay.example.com/hooks/gcp-secrets',
  PUSH_SERVICE_ACCOUNT: 'relay-push@my-project.iam.gserviceaccount.com',
  GCP_DB_SECRET: DB,
  GCP_API_SECRET: API,
}
const FILE = 'examples/gcp/secret-manager-pubsub.yaml'
const config = parseConfig(readFileSync(FILE, 'utf8'), ENV, FILE)
const source = config.sources[0]!
const rules = compileRules(source)
const map = (m: PushMessage) => rules.mapWithRules(unwrapPush(JSON.parse(pushEnvelope(m)), {}).payload)

describe('examples/gcp', () => {
  it('ships one config: a google-pubsub source with Google keys by default', () => {
    expect(readdirSync('examples/gcp')).toEqual(['secret-manager-pubsub.yaml'])
    expect(source.verify).toMatchObject({
      type: 'google-pubsub',
      jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
      issuer: ['https://accounts.google.com', 'accounts.google.com'],
    })
  })

  it('a version added or enabled: that version, gated by latest', () => {
    expect(map(versionEvent(DB, 4)).secrets).toEqual([
      {
        vault: 'production',
        name: 'DATABASE_PASSWORD',
        ref: { store: 'gcp', secret: DB, version: '4', jsonKey: 'password', alias: 'latest' },
        description: `Secret Manager ${DB}/versions/4`,
      },
    ])
    const enabled = map(versionEvent(API, 2, { eventType: 'SECRET_VERSION_ENABLE' })).secrets
    expect(enabled).toMatchObject([
      { name: 'PARTNER_API_TOKEN', ref: { secret: API, version: '2', alias: 'latest' } },
    ])
  })

  it('SECRET_ROTATE is a notice; disable, destroy, delete and other secrets map nothing', () => {
    expect(map({ attributes: { eventType: 'SECRET_ROTATE', secretId: DB }, data: { name: DB } })).toEqual({
      secrets: [],
      rules: [],
      notices: ['rotation-due'],
    })
    for (const eventType of ['SECRET_VERSION_DISABLE', 'SECRET_VERSION_DESTROY', 'SECRET_DELETE'])
      expect(map(versionEvent(DB, 1, { eventType }))).toEqual({ secrets: [], rules: [], notices: [] })
    expect(map(versionEvent('projects/123456789012/secrets/other', 1)).secrets).toEqual([])
  })
})
