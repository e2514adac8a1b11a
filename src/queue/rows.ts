// Secret rows as both stores read them and their translation into the store's records; the value never
// leaves here except in a Claimed secret.
import type { ValueRef } from '../config/schema.js'
import type { Claimed, SecretRecord, SecretStatus } from './store.js'

/** Why a secret was superseded; shared wording so every store reports the same reasons. */
export const SUPERSEDED_BY_NEWER = 'superseded by a newer value'
export const OLDER_THAN_DELIVERED = 'older than the value already delivered'

/** Whether a secret may wait for delivery, or why it is superseded on the spot (the never-regress rules). */
export type Placement = { status: 'queued' } | { status: 'superseded'; error: string }

/** Columns of a SecretRecord: every column but `sealed`, so no admin read can carry a value. */
export const RECORD_COLUMNS =
  's.id, s.vault, s.name, s.description, s.ref, s.fingerprint, s.event_time, s.status, s.attempts, ' +
  's.next_attempt_at, s.last_error, s.rwx_version, s.created_at, s.updated_at, s.delivered_at'

/** What a RECORD_COLUMNS select returns. */
export interface RecordRow {
  id: number
  vault: string
  name: string
  description: string | null
  ref: string | null
  fingerprint: string | null
  event_time: number
  status: SecretStatus
  attempts: number
  next_attempt_at: number | null
  last_error: string | null
  rwx_version: number | null
  created_at: number
  updated_at: number
  delivered_at: number | null
}

/** What the claim select returns: the value, the reference and where the secret came from. */
export interface ClaimRow {
  id: number
  source: string
  event_id: string
  vault: string
  name: string
  description: string | null
  sealed: Buffer | null
  ref: string | null
  attempts: number
  event_time: number
  created_at: number
  solo: number
  /** 1 when the name has a fence (an earlier write with an unknown outcome) not yet confirmed. */
  unconfirmed?: number
}

/** References are stored as JSON text; they name where a value lives, never the value. */
export function refToText(ref: ValueRef | null): string | null {
  return ref === null ? null : JSON.stringify(ref)
}

export function refFromText(text: string | null): ValueRef | null {
  return text === null ? null : (JSON.parse(text) as ValueRef)
}

export function toRecord(row: RecordRow): SecretRecord {
  return {
    id: row.id,
    vault: row.vault,
    name: row.name,
    description: row.description,
    status: row.status,
    ref: refFromText(row.ref),
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    rwxVersion: row.rwx_version,
    fingerprint: row.fingerprint,
    eventTime: row.event_time,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  }
}

export function toClaimed(row: ClaimRow): Claimed {
  return {
    id: row.id,
    source: row.source,
    eventId: row.event_id,
    vault: row.vault,
    name: row.name,
    description: row.description,
    sealed: row.sealed,
    ref: refFromText(row.ref),
    attempts: row.attempts,
    eventTime: row.event_time,
    createdAt: row.created_at,
    solo: row.solo === 1,
    unconfirmed: row.unconfirmed === 1,
  }
}
