// What the local RWX stand-in records (requests, writes, stored secrets) and how a test or the demo drives it.
import type { IncomingHttpHeaders } from 'node:http'

/** One request as the fake received it, in arrival order. */
export interface RecordedRequest {
  /** Arrival time, epoch ms (Date.now()). */
  at: number
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** The body parsed as JSON, or null when it was not JSON. */
  body: unknown
  /** The status the fake answered with (0 while still being answered). */
  status: number
  /** When the answer was sent, epoch ms (undefined while still being answered). */
  answeredAt?: number
}

/** One secret stored by a request, in write order. */
export interface RecordedWrite {
  at: number
  vault: string
  name: string
  secret: string
  description?: string
  version: number
}

/** What the fake keeps for a secret: its latest value and version. */
export interface StoredSecret {
  secret: string
  version: number
  description?: string
}

/** A programmed answer that replaces normal handling (nothing is stored). */
export interface Fault {
  status: number
  /** Retry-After header: seconds, or an HTTP-date string. */
  retryAfter?: number | string
  /** Body: a string as is, anything else as JSON. Default: none. */
  body?: unknown
  headers?: Record<string, string>
}

export interface FakeRwxOptions {
  /** The accepted Bearer token. Default `test-token`. */
  token?: string
  /** When set, any other vault answers 404 `{"error": "Vault not found"}`. Default: every vault exists. */
  vaults?: string[]
}

export interface FakeRwx {
  /** Base URL, e.g. http://127.0.0.1:43210 (give it as `rwx.url`). */
  readonly url: string
  readonly port: number
  readonly token: string
  /** Every request received, in order (faults and refusals included). */
  readonly requests: RecordedRequest[]
  /** Every secret stored, in order. */
  readonly writes: RecordedWrite[]
  /** A copy of what `vault` holds now, by name. */
  secrets(vault: string): Map<string, StoredSecret>
  /** Answers the next `n` requests with `fault` instead of handling them. Calls queue up in order. */
  failNext(n: number, fault: Fault): void
  /** Destroys open connections and stops listening: new connections are refused. */
  down(): Promise<void>
  /** Listens again on the same port. */
  up(): Promise<void>
  /**
   * Waits `ms` before handling each of the next `times` requests (default: all, until `delay(0)`).
   * The request is still handled after the wait, so a client that gave up may find it stored.
   */
  delay(ms: number, times?: number): void
  /** Makes names matching `pred` fail validation like a bad name (null clears). */
  rejectNames(pred: ((name: string) => boolean) | null): void
  /** Changes the accepted token. */
  setToken(token: string): void
  /**
   * Changes a stored secret behind the relay's back, as someone else would: sets its version (keeping the
   * value), or deletes it (null). The reads that follow see it.
   */
  alter(vault: string, name: string, version: number | null): void
  /**
   * Answers metadata reads from `fn` instead of the store: a version to report, null for 404, undefined to
   * read the store as usual (null clears). Simulates a change between a write and its read-back.
   */
  overrideReads(fn: ((vault: string, name: string) => number | null | undefined) | null): void
  /**
   * Stores writes as usual but answers them 200 `{}` (no `set_secrets`), as a proxy or a stub in front of
   * RWX might (`stored: false`: stores nothing either); null answers normally again.
   */
  answerBare(mode: { stored: boolean } | null): void
  /** Leaves names matching `pred` unstored and out of `set_secrets` (null clears). */
  omitFromSetSecrets(pred: ((name: string) => boolean) | null): void
  /**
   * Resolves once `pred` holds over the recorded writes and requests (checked now, when a request
   * arrives and when it is answered); rejects after `timeoutMs` with what was seen. Use instead of sleeping.
   */
  waitFor(
    pred: (writes: readonly RecordedWrite[], requests: readonly RecordedRequest[]) => boolean,
    timeoutMs?: number,
  ): Promise<void>
  /** Clears records, stored secrets and every programmed fault. */
  reset(): void
  close(): Promise<void>
}
