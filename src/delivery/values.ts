// Where a queued secret's value comes from at delivery: the sealed copy, or a reference resolved then.
import type { AwsValueRef } from '../config/schema.js'

/** What resolving a reference gave: the value, or why not now, or why never. */
export type Resolved =
  | { kind: 'value'; value: string }
  | { kind: 'retry'; error: string; afterMs?: number }
  | { kind: 'dead'; error: string }
  /** The reference names a version that is no longer the one to write (a newer one is current). */
  | { kind: 'superseded'; error: string }

/** Fetches values that never rest in the queue (AWS Secrets Manager). */
export interface ReferenceResolver {
  resolve(ref: AwsValueRef): Promise<Resolved>
}
