// Rule values that name an AWS Secrets Manager secret (`awsSecretsManager`), rendered per payload.
import type { AwsValueRef } from '../config/schema.js'
import type { RefCompiler } from './template.js'

/** An AWS Secrets Manager reference: secret id, version id and JSON key each a template. */
export function awsRef(c: RefCompiler, aws: AwsValueRef, path: string): (payload: unknown) => AwsValueRef {
  const secretId = c.nonEmpty(aws.secretId, `${path}.secretId`)
  const versionId = aws.versionId === undefined ? undefined : c.nonEmpty(aws.versionId, `${path}.versionId`)
  const jsonKey = aws.jsonKey === undefined ? undefined : c.nonEmpty(aws.jsonKey, `${path}.jsonKey`)
  return (payload) => {
    const ref: AwsValueRef = { secretId: secretId!(payload) }
    if (versionId) ref.versionId = versionId(payload)
    if (jsonKey) ref.jsonKey = jsonKey(payload)
    return ref
  }
}
