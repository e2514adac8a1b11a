// Where a queued secret's value comes from at delivery: the sealed copy, or a reference resolved then.
import type { AwsValueRef } from '../config/schema.js'

/** What resolving a reference gave: the value, or why not now, or why never. */
export type Resolved =
  | { kind: 'value'; value: string }
  /**
   * Try again later. `countAttempt: false` for failures a fix outside the relay ends (AWS credentials),
   * which like RWX auth failures must not use up attempts or age and lose the secret.
   */
  | { kind: 'retry'; error: string; afterMs?: number; countAttempt?: boolean }
  | { kind: 'dead'; error: string }
  /** The reference names a version that is no longer the one to write (a newer one is current). */
  | { kind: 'superseded'; error: string }

/** Fetches values that never rest in the queue (AWS Secrets Manager). */
export interface ReferenceResolver {
  resolve(ref: AwsValueRef): Promise<Resolved>
}
