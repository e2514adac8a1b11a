// The shipped AWS examples: each config loads, maps its event shape to the right reference, and the
// CloudFormation templates refer only to what they define and route to the example sources.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type ExpandProblem, expandEnv } from '../../src/config/expand.js'
import { type Config, configSchema } from '../../src/config/schema.js'
import { parseConfig } from '../../src/load-config.js'
import { compileRules } from '../../src/mapping/rules.js'
import { labelUpdatedEvent, putSecretValueEvent, rotationSucceededEvent } from '../support/aws-events.js'

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

const ID = '6a7e8feb-b491-4cf7-a9f1-bf3703467718'
const AT = { id: ID, time: '2030-01-01T00:00:00Z' }

describe('examples/aws', () => {
  it('ships three configs, each loading with only its documented variables set', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))
    expect(files.sort()).toEqual([
      'put-secret-value.yaml',
      'rotation-succeeded.yaml',
      'secret-label-updated.yaml',
    ])
    for (const f of files) expect(load(f).sources.every((s) => s.verify?.type === 'api-key')).toBe(true)
  })

  it('Secret Label Updated: the named version of the secret in resources[0]', () => {
    const config = load('secret-label-updated.yaml')
    const event = labelUpdatedEvent(DB_ARN, 'v-9', AT)
    const out = mapThrough(config, 'aws-label-updated', event)
    expect(out.secrets).toMatchObject([
      {
        vault: 'production',
        name: 'DATABASE_PASSWORD',
        ref: { secretId: DB_ARN, versionId: 'v-9', jsonKey: 'password' },
        description: 'Secrets Manager prod/app/db, version v-9',
      },
      {
        vault: 'production',
        name: 'DATABASE_USER',
        ref: { secretId: DB_ARN, versionId: 'v-9', jsonKey: 'username' },
      },
    ])
    expect(out).toMatchObject({ eventId: ID, eventTime: Date.parse(AT.time) })
    const other = { ...event, detail: { ...event.detail, labelUpdated: 'MYLABEL' } }
    expect(mapThrough(config, 'aws-label-updated', other).secrets).toEqual([])
  })

  it('PutSecretValue: the ClientRequestToken is the version, the response ARN the secret', () => {
    const event = putSecretValueEvent(TOKEN_ARN, 'tok-1', AT)
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

  it.each(['additionalEventData', 'serviceEventDetails', 'resources'] as const)(
    'RotationSucceeded: one source reads the ARN from %s',
    (place) => {
      const event = rotationSucceededEvent(place, DB_ARN, AT)
      const out = mapThrough(load('rotation-succeeded.yaml'), 'aws-rotation-succeeded', event)
      expect(out.secrets).toEqual([
        {
          vault: 'production',
          name: 'DATABASE_PASSWORD',
          ref: { secretId: DB_ARN, jsonKey: 'password' },
          description: `rotated by Secrets Manager (${ID})`,
        },
      ])
    },
  )

  it('RotationSucceeded: another secret, or no ARN anywhere, matches nothing', () => {
    const config = load('rotation-succeeded.yaml')
    const map = (event: unknown) => mapThrough(config, 'aws-rotation-succeeded', event).secrets
    expect(map(rotationSucceededEvent('additionalEventData', TOKEN_ARN))).toEqual([])
    // The first present place decides: a later one naming the secret does not override it.
    const both = rotationSucceededEvent('additionalEventData', TOKEN_ARN, { resources: [DB_ARN] })
    expect(map(both)).toEqual([])
    expect(map(rotationSucceededEvent('resources', DB_ARN, { resources: [] }))).toEqual([])
  })
})

/** The YAML code blocks of docs/aws.md. */
function docBlocks(): string[] {
  return [...readFileSync('docs/aws.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!)
}

describe('docs/aws.md', () => {
  it('has a RotationSucceeded rule with the fallback, the same as the example', () => {
    const block = docBlocks().find((b) => b.includes('RotationSucceeded'))
    expect(block).toBeDefined()
    const problems: ExpandProblem[] = []
    const raw = expandEnv(parse(block!).rules, ENV, problems)
    expect(problems).toEqual([])
    const source = configSchema.parse({
      sources: [{ id: 'doc', verify: { type: 'api-key', header: 'x', keys: ['k'] }, rules: raw }],
    }).sources[0]!
    // The same fallback as the shipped example, in `when` and in the secretId template.
    const example = load('rotation-succeeded.yaml').sources[0]!.rules[0]!
    const doc = source.rules[0]!
    const fallback = (when: Record<string, unknown>) => Object.keys(when).find((k) => k.includes('??'))
    expect(fallback(doc.when)).toBe(fallback(example.when))
    expect(doc.secrets[0]!.value).toEqual(example.secrets[0]!.value)
    const rules = compileRules(source)
    for (const place of ['additionalEventData', 'serviceEventDetails', 'resources'] as const) {
      const event = rotationSucceededEvent(place, DB_ARN)
      expect(rules.map(event)).toMatchObject([{ ref: { secretId: DB_ARN, jsonKey: 'password' } }])
    }
  })

  it('has an SNS source config that loads and maps an EventBridge event', () => {
    const block = docBlocks().find((b) => b.includes('type: aws-sns'))
    expect(block).toBeDefined()
    // Schema and mapping only, as the block is written (without the relay's own checks).
    const problems: ExpandProblem[] = []
    const env = { ...ENV, SNS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:rotations' }
    const config = configSchema.parse(expandEnv(parse(block!), env, problems))
    expect(problems).toEqual([])
    const out = mapThrough(config, 'aws-sns', labelUpdatedEvent(DB_ARN, 'v-3'))
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
