// Shared fixtures of the store contract: a real sealer, event builders and short reads of a store.
import { randomBytes } from 'node:crypto'
import type { AwsValueRef } from '../../../src/config/schema.js'
import { createSealer, valueAad } from '../../../src/queue/crypto.js'
import type {
  Claimed,
  NewEvent,
  NewSecret,
  SecretRecord,
  SecretStatus,
  Store,
} from '../../../src/queue/store.js'

/** A store under test and how to dispose of it. */
export interface StoreFixture {
  store: Store
  cleanup(): Promise<void>
}

/** What each part of the contract reads: the store of the running test. */
export interface ContractContext {
  readonly store: Store
}

/** Every time in the contract is an offset from this instant; no test waits on a clock. */
export const T0 = 1_700_000_000_000
export const LEASE_MS = 30_000

export const sealer = createSealer(randomBytes(32))
export const aad = valueAad

/** A secret whose value is sealed now, as the ingest service queues it. */
export function sealed(vault: string, name: string, value: string, description?: string): NewSecret {
  return {
    vault,
    name,
    description,
    sealed: sealer.seal(value, aad(vault, name)),
    ref: null,
    fingerprint: sealer.fingerprint(value),
  }
}

/** A secret fetched from AWS at delivery: only the reference is queued. */
export function referenced(vault: string, name: string, ref: AwsValueRef): NewSecret {
  return { vault, name, sealed: null, ref, fingerprint: null }
}

let counter = 0

export function newEvent(
  eventTime: number,
  secrets: NewSecret[],
  options: { source?: string; eventId?: string; receivedAt?: number } = {},
): NewEvent {
  counter++
  return {
    source: options.source ?? 'stripe',
    eventId: options.eventId ?? `evt_${counter}`,
    eventTime,
    receivedAt: options.receivedAt ?? T0,
    secrets,
  }
}

export function claim(store: Store, now: number, owner = 'w1', limit = 100): Promise<Claimed[]> {
  return store.claim({ owner, now, leaseMs: LEASE_MS, limit })
}

/** The plaintext of a claimed secret. */
export function opened(c: Claimed): string {
  if (c.sealed === null) throw new Error(`secret ${c.id} has no sealed value`)
  return sealer.open(c.sealed, aad(c.vault, c.name))
}

/** The records of an event's secrets, in arrival order. */
export async function recordsOf(store: Store, event: NewEvent): Promise<SecretRecord[]> {
  const shown = await store.getEvent(event.source, event.eventId)
  if (shown === null) throw new Error(`event ${event.eventId} not found`)
  return shown.secrets ?? []
}

export async function statusesOf(store: Store, event: NewEvent): Promise<SecretStatus[]> {
  return (await recordsOf(store, event)).map((r) => r.status)
}

/** The first secret record of an event. */
export async function recordOf(store: Store, event: NewEvent): Promise<SecretRecord> {
  const [first] = await recordsOf(store, event)
  if (first === undefined) throw new Error(`event ${event.eventId} has no secrets`)
  return first
}
