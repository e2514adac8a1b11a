// The shipped AWS examples: each config loads, maps its event shape to the right reference, and the
// CloudFormation templates refer only to what they define and route to the example sources.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type ExpandProblem, expandEnv } from '../../src/config/expand.js'
import { parseConfig } from '../../src/config/load.js'
import { type Config, configSchema } from '../../src/config/schema.js'
import { compileRules } from '../../src/mapping/rules.js'

const DB_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app/db-AbCdEf'
const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/partner-token-GhIjKl'
const ENV = {
  RWX_ACCESS_TOKEN: 'rwx-test-token',
  EVENTBRIDGE_API_KEY: 'k'.repeat(40),
  DB_SECRET_ARN: DB_ARN,
  API_TOKEN_SECRET_ARN: TOKEN_ARN,
}
const EXAMPLES = 'examples/aws'
const DEPLOY = 'deploy/aws'

function load(file: string): Config {
  return parseConfig(readFileSync(join(EXAMPLES, file), 'utf8'), ENV, file)
}

/** Maps `event` through one source of an example, as the hook would after verification. */
function mapThrough(config: Config, sourceId: string, event: unknown) {
  const source = config.sources.find((s) => s.id === sourceId)
  if (source === undefined) throw new Error(`no source ${sourceId}`)
  const rules = compileRules(source)
  return { secrets: rules.map(event), eventId: rules.eventId?.(event), eventTime: rules.eventTime?.(event) }
}

const envelope = <D>(detailType: string, detail: D, resources: string[] = []) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': detailType,
  source: 'aws.secretsmanager',
  account: '111122223333',
  time: '2030-01-01T00:00:00Z',
  region: 'eu-west-1',
  resources,
  detail,
})

describe('examples/aws', () => {
  it('ships three configs, each loading with only its documented variables set', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))
    expect(files.sort()).toEqual([
      'put-secret-value.yaml',
      'rotation-succeeded.yaml',
      'secret-label-updated.yaml',
    ])
    for (const f of files) expect(load(f).sources.every((s) => s.verify.type === 'api-key')).toBe(true)
  })

  it('Secret Label Updated: the named version of the secret in resources[0]', () => {
    const config = load('secret-label-updated.yaml')
    const event = envelope(
      'Secret Label Updated',
      { name: 'prod/app/db', labelUpdated: 'AWSCURRENT', versionId: 'v-9' },
      [DB_ARN],
    )
    const out = mapThrough(config, 'aws-label-updated', event)
    expect(out.secrets).toMatchObject([
      {
        vault: 'production',
        name: 'DATABASE_PASSWORD',
        ref: { secretId: DB_ARN, versionId: 'v-9', jsonKey: 'password' },
      },
      {
        vault: 'production',
        name: 'DATABASE_USER',
        ref: { secretId: DB_ARN, versionId: 'v-9', jsonKey: 'username' },
      },
    ])
    expect(out).toMatchObject({ eventId: event.id, eventTime: Date.parse(event.time) })
    const other = { ...event, detail: { ...event.detail, labelUpdated: 'MYLABEL' } }
    expect(mapThrough(config, 'aws-label-updated', other).secrets).toEqual([])
  })

  it('PutSecretValue: the ClientRequestToken is the version, the response ARN the secret', () => {
    const event = envelope('AWS API Call via CloudTrail', {
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'PutSecretValue',
      userIdentity: { arn: 'arn:aws:iam::111122223333:role/deployer' },
      requestParameters: { secretId: 'prod/partner-token', clientRequestToken: 'tok-1' },
      responseElements: { arn: TOKEN_ARN, versionId: 'tok-1' },
    })
    const out = mapThrough(load('put-secret-value.yaml'), 'aws-put-secret-value', event)
    expect(out.secrets).toEqual([
      {
        vault: 'production',
        name: 'PARTNER_API_TOKEN',
        ref: { secretId: TOKEN_ARN, versionId: 'tok-1' },
        description: 'PutSecretValue by arn:aws:iam::111122223333:role/deployer',
      },
    ])
  })

  it.each([
    ['aws-rotation-additional', { additionalEventData: { SecretId: DB_ARN } }, []],
    ['aws-rotation-service', { serviceEventDetails: { secretId: DB_ARN } }, []],
    ['aws-rotation-resources', {}, [DB_ARN]],
  ])('RotationSucceeded: %s reads the ARN where that shape carries it', (sourceId, fields, resources) => {
    const detail = { eventSource: 'secretsmanager.amazonaws.com', eventName: 'RotationSucceeded', ...fields }
    const out = mapThrough(
      load('rotation-succeeded.yaml'),
      sourceId,
      envelope('AWS Service Event via CloudTrail', detail, resources),
    )
    expect(out.secrets).toMatchObject([
      { name: 'DATABASE_PASSWORD', ref: { secretId: DB_ARN, jsonKey: 'password' } },
    ])
    expect(out.secrets[0]).not.toHaveProperty('ref.versionId')
  })
})

describe('docs/aws.md', () => {
  it('has an SNS source config that loads and maps an EventBridge event', () => {
    const blocks = [...readFileSync('docs/aws.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map(
      (m) => m[1]!,
    )
    expect(blocks).toHaveLength(1)
    // Schema and mapping only: parseConfig also builds the verifier, which needs aws-sns in the registry.
    const problems: ExpandProblem[] = []
    const env = { ...ENV, SNS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:rotations' }
    const config = configSchema.parse(expandEnv(parse(blocks[0]!), env, problems))
    expect(problems).toEqual([])
    const detail = { name: 'prod/app/db', labelUpdated: 'AWSCURRENT', versionId: 'v-3' }
    const out = mapThrough(config, 'aws-sns', envelope('Secret Label Updated', detail, [DB_ARN]))
    expect(out.secrets).toMatchObject([{ ref: { secretId: DB_ARN, versionId: 'v-3', jsonKey: 'password' } }])
  })
})

/** Every `Ref`, `Fn::GetAtt`, `Fn::If` condition and `${Name}` of `Fn::Sub` in `node`, AWS pseudo parameters left out. */
function references(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const v of node) references(v, out)
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'Ref' && typeof v === 'string') {
        if (!v.startsWith('AWS::')) out.push(v)
      } else if ((k === 'Fn::GetAtt' || k === 'Fn::If') && Array.isArray(v)) {
        out.push(String(v[0]))
        references(v.slice(1), out)
      } else if (k === 'Fn::Sub' && typeof v === 'string') {
        for (const m of v.matchAll(/\$\{([A-Za-z0-9]+)\}/g)) out.push(m[1]!)
      } else references(v, out)
    }
  }
  return out
}

interface Rule {
  Type: string
  Properties: { Targets?: { HttpParameters?: { PathParameterValues?: string[] } }[] }
}

describe('deploy/aws', () => {
  const templates = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml'))

  it.each(templates)('%s refers only to parameters, resources and conditions it defines', (file) => {
    const doc = parse(readFileSync(join(DEPLOY, file), 'utf8')) as Record<string, Record<string, unknown>>
    const defined = new Set(
      ['Parameters', 'Resources', 'Conditions'].flatMap((k) => Object.keys(doc[k] ?? {})),
    )
    const missing = references(doc['Resources'])
      .concat(references(doc['Outputs']))
      .filter((r) => !defined.has(r))
    expect(missing).toEqual([])
  })

  it('routes every EventBridge rule to a source of the examples', () => {
    const doc = parse(readFileSync(join(DEPLOY, 'eventbridge-api-destination.yaml'), 'utf8'))
    const paths = Object.values(doc.Resources as Record<string, Rule>)
      .filter((r) => r.Type === 'AWS::Events::Rule')
      .flatMap((r) =>
        (r.Properties.Targets ?? []).flatMap((t) => t.HttpParameters?.PathParameterValues ?? []),
      )
    const sources = readdirSync(EXAMPLES).flatMap((f) => load(f).sources.map((s) => s.id))
    expect(paths.sort()).toEqual(sources.sort())
  })
})
