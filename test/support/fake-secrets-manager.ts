// A stand-in for the Secrets Manager endpoint on loopback, speaking the AWS JSON 1.1 protocol to the real SDK.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'

interface Version {
  id: string
  string?: string
  binary?: Buffer
  stages: Set<string>
}

interface Secret {
  arn: string
  name: string
  versions: Map<string, Version>
}

/** One request the fake answered (the region is read from the SigV4 credential scope). */
export interface RecordedCall {
  target: string
  body: Record<string, unknown>
  region: string | undefined
}

/** A programmable Secrets Manager. */
export interface FakeSecretsManager {
  /** `http://127.0.0.1:PORT`: the value for AWS_ENDPOINT_URL_SECRETS_MANAGER or a client's `endpoint`. */
  url: string
  calls: RecordedCall[]
  /** Creates a secret whose first version is AWSCURRENT; returns its ARN and version id. */
  create(name: string, value: string | Buffer, region?: string): { arn: string; versionId: string }
  /** Adds a version labelled AWSPENDING (the label leaves any other version). */
  putPending(secretId: string, value: string | Buffer, versionId?: string): string
  /** Moves AWSCURRENT to `versionId`; the old current becomes AWSPREVIOUS; AWSPENDING leaves it. */
  promote(secretId: string, versionId: string): void
  /** Answers the next `count` requests with this error (`__type`) and status instead. */
  failNext(count: number, type: string, status?: number): void
  close(): Promise<void>
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const ACCOUNT = '111122223333'

/**
 * The AWS SDK's own settings for a relay process reaching `sm`: dummy credentials, a default region, no
 * instance metadata, and config and credentials files under `dir` that do not exist (so none of the host's).
 */
export function awsSdkEnv(sm: FakeSecretsManager, dir: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
    AWS_ACCESS_KEY_ID: 'AKIDE2ETEST',
    AWS_SECRET_ACCESS_KEY: 'e2e-secret-access-key',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  }
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, Secret>()
  const calls: RecordedCall[] = []
  const failures: { type: string; status: number }[] = []

  const find = (id: unknown): Secret => {
    const secret =
      typeof id === 'string'
        ? (secrets.get(id) ?? [...secrets.values()].find((s) => s.arn === id))
        : undefined
    if (secret === undefined)
      throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.")
    return secret
  }
  const withStage = (secret: Secret, stage: string) =>
    [...secret.versions.values()].find((v) => v.stages.has(stage))
  const addVersion = (secret: Secret, value: string | Buffer, id: string, stage: string): Version => {
    for (const v of secret.versions.values()) v.stages.delete(stage)
    const version: Version = {
      id,
      stages: new Set([stage]),
      ...(typeof value === 'string' ? { string: value } : { binary: value }),
    }
    secret.versions.set(id, version)
    return version
  }

  const getSecretValue = (body: Record<string, unknown>) => {
    const secret = find(body['SecretId'])
    const versionId = body['VersionId']
    const stage = typeof body['VersionStage'] === 'string' ? body['VersionStage'] : undefined
    let version =
      typeof versionId === 'string'
        ? secret.versions.get(versionId)
        : withStage(secret, stage ?? 'AWSCURRENT')
    if (version !== undefined && stage !== undefined && !version.stages.has(stage)) version = undefined
    if (version === undefined) {
      throw new AwsError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret value.",
      )
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.string !== undefined ? { SecretString: version.string } : {}),
      ...(version.binary !== undefined ? { SecretBinary: version.binary.toString('base64') } : {}),
      VersionStages: [...version.stages],
      CreatedDate: 1_893_456_000,
    }
  }

  const describeSecret = (body: Record<string, unknown>) => {
    const secret = find(body['SecretId'])
    const stages: Record<string, string[]> = {}
    for (const v of secret.versions.values()) if (v.stages.size > 0) stages[v.id] = [...v.stages]
    return { ARN: secret.arn, Name: secret.name, VersionIdsToStages: stages }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const target = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '')
    const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1]
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>
    calls.push({ target, body, region })
    const send = (status: number, doc: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID(),
      })
      res.end(JSON.stringify(doc))
    }
    try {
      const failure = failures.shift()
      if (failure !== undefined) throw new AwsError(failure.type, `injected ${failure.type}`, failure.status)
      if (target === 'GetSecretValue') send(200, getSecretValue(body))
      else if (target === 'DescribeSecret') send(200, describeSecret(body))
      else throw new AwsError('UnknownOperationException', `unknown operation ${target}`)
    } catch (err) {
      if (!(err instanceof AwsError)) throw err
      send(err.status, { __type: err.type, message: err.message })
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    calls,
    create(name, value, region = 'us-east-1') {
      const arn = `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-AbCdEf`
      const secret: Secret = { arn, name, versions: new Map() }
      secrets.set(name, secret)
      const versionId = randomUUID()
      addVersion(secret, value, versionId, 'AWSCURRENT')
      return { arn, versionId }
    },
    putPending(secretId, value, versionId = randomUUID()) {
      addVersion(find(secretId), value, versionId, 'AWSPENDING')
      return versionId
    },
    promote(secretId, versionId) {
      const secret = find(secretId)
      const next = secret.versions.get(versionId)
      if (next === undefined) throw new Error(`no version ${versionId}`)
      const current = withStage(secret, 'AWSCURRENT')
      if (current === next) return
      for (const v of secret.versions.values()) v.stages.delete('AWSPREVIOUS')
      current?.stages.delete('AWSCURRENT')
      current?.stages.add('AWSPREVIOUS')
      next.stages.delete('AWSPENDING')
      next.stages.add('AWSCURRENT')
    },
    failNext(count, type, status = 400) {
      for (let i = 0; i < count; i++) failures.push({ type, status })
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
