// What every verifier takes and gives back: raw bytes in, a trusted payload out, or a RelayError.

/** Request headers as Node gives them: lower-case names. */
export type Headers = Record<string, string | string[] | undefined>

export interface VerifyInput {
  headers: Headers
  /** The raw request body, exactly as received. */
  body: Buffer
  /** Receive time, epoch milliseconds (the injected clock). */
  now: number
  /** The request's query string without `?` (a secret for some schemes: never logged). */
  query?: string
}

/** One event of a delivery that carries several (an Event Grid or CloudEvents batch). */
export interface VerifiedEvent {
  /** The event as rules map it. */
  payload: unknown
  eventId?: string
  eventTime?: number
  /**
   * Set for an event the provider sends as a notice (a secret about to expire): counted and logged by
   * its kind, never mapped or queued.
   */
  notice?: string
}

export interface Verified {
  /** The trusted document that rules map from. */
  payload: unknown
  /** The verifier's own event id, when its scheme has one (webhook-id, jti, MessageId...). */
  eventId?: string
  /** The verifier's own event time, epoch milliseconds, when its scheme signs one. */
  eventTime?: number
  /**
   * Which configured key matched, for provenance: its place in the config (`secrets[1]`) or its kid; a
   * public identifier at most (an SNS certificate URL), never the key.
   */
  keyId?: string
  /**
   * Set when the message was a protocol exchange that was handled and carries nothing to map
   * (an SNS subscription confirmation): the hook answers 200 with this text as `handled`.
   */
  handled?: string
  /** With `handled`: the JSON body to answer with instead (a protocol's own handshake answer). */
  answer?: Record<string, string>
  /** Several events in one delivery, each mapped and queued on its own (`payload` is then the whole body). */
  events?: VerifiedEvent[]
  /** As on VerifiedEvent, for a delivery of one event. */
  notice?: string
}

/** One configured verification scheme. Throws RelayError (400, 401) when the request is refused. */
export interface Verifier {
  verify(input: VerifyInput): Promise<Verified>
  /**
   * Answers an `OPTIONS` preflight (the CloudEvents webhook abuse protection) with the headers to send,
   * or throws; schemes without one leave it out (the hook answers 405).
   */
  preflight?(input: { headers: Headers; query?: string | undefined }): Promise<Record<string, string>>
  /** Releases timers or caches, if any. */
  close?(): void
}

/** Reads one header as a single string (the first when repeated). */
export function header(headers: Headers, name: string): string | undefined {
  // Own keys only: a header configured as `constructor` must not read Object.prototype's.
  const key = name.toLowerCase()
  const v = Object.hasOwn(headers, key) ? headers[key] : undefined
  return Array.isArray(v) ? v[0] : v
}
