// The aws-sns verifier: SNS HTTP(S) messages signed with SignatureVersion 1 or 2, from allowed topics only.
import { type KeyObject, verify as verifySignature } from 'node:crypto'
import type { Dispatcher } from 'undici'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { type HttpGet, outboundGet } from '../http/get.js'
import { allowedUrl, confirmSubscription, createCertCache } from './aws-sns-cert.js'
import { header, type Verified, type Verifier, type VerifyInput } from './types.js'

/** The `verify` block of an `aws-sns` source. */
export type SnsVerifyConfig = Extract<VerifyConfig, { type: 'aws-sns' }>

/** The part of a pino logger the verifier uses. */
export interface SnsLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

/** What the SNS verifier takes from its caller; every field has a working default. */
export interface SnsDeps {
  /** A WHATWG fetch for SigningCertURL and SubscribeURL (the registry's `VerifierDeps.fetch`). */
  fetch?: typeof fetch
  /** Or a bounded GET of one's own; wins over `fetch` and `dispatcher`. */
  get?: HttpGet
  /** undici dispatcher for the default GET (undici `request`; the global agent when absent). */
  dispatcher?: Dispatcher
  log?: SnsLog
}

/**
 * Oldest message accepted. SNS keeps `Timestamp` (publish time) across retries and an HTTP(S) delivery
 * policy retries for at most 3600 s, so an hour plus clock skew lets every genuine retry through while a
 * captured message cannot be replayed later (the relay also dedupes on MessageId).
 */
export const SNS_MAX_AGE_MS = 65 * 60 * 1000
/** How far in the future a Timestamp may be (clock skew between AWS and this host). */
export const SNS_FUTURE_SKEW_MS = 5 * 60 * 1000

/** AWS's own rule for the SNS host (as its SDKs check SigningCertURL): `sns.<region>.amazonaws.com(.cn)`. */
const AWS_SNS_HOST = /^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$/

/**
 * The URL rule `certUrlPattern` cannot loosen: https on the default port to AWS's SNS host. A pattern
 * without a scheme or anchor, or the old default's `[a-z0-9-]+` (which took `sns.s3.amazonaws.com`),
 * cannot let a certificate or confirmation URL through to anyone else.
 */
function onAwsSnsHost(url: URL | null): url is URL {
  return url !== null && url.protocol === 'https:' && url.port === '' && AWS_SNS_HOST.test(url.hostname)
}

type SnsType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation'

/** Keys of the string to sign, in byte order, per message type (Subject only when present). */
const SIGNED_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Notification', ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']],
  [
    'SubscriptionConfirmation',
    ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  ],
  [
    'UnsubscribeConfirmation',
    ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  ],
])
const SIGNATURE_FIELDS = ['SignatureVersion', 'Signature', 'SigningCertURL'] as const
const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1', 'sha1'],
  ['2', 'sha256'],
])

/** A parsed SNS message whose required fields are all strings. */
type SnsMessage = Record<string, unknown> & { Type: SnsType } & Record<
    'MessageId' | 'TopicArn' | 'Message' | 'Timestamp' | 'SignatureVersion' | 'Signature' | 'SigningCertURL',
    string
  >

const badBody = (msg: string) => new RelayError('ERR_BODY_INVALID', msg)
const badSignature = (msg: string) => new RelayError('ERR_SIGNATURE_INVALID', msg)

/** Parses the raw body and checks every field the message type needs (400 when anything is off). */
function parseMessage(body: Buffer): SnsMessage {
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch {
    throw badBody('body is not JSON')
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw badBody('body is not a JSON object')
  const msg = doc as Record<string, unknown>
  const type = msg['Type']
  if (typeof type !== 'string') throw badBody('Type: required')
  const keys = SIGNED_KEYS.get(type)
  if (keys === undefined) throw badBody('Type: not an SNS message type')
  for (const key of [...keys, ...SIGNATURE_FIELDS]) {
    if (key === 'Subject') continue
    if (typeof msg[key] !== 'string') throw badBody(`${key}: required`)
  }
  const subject = msg['Subject']
  if (subject !== undefined && subject !== null && typeof subject !== 'string')
    throw badBody('Subject: not a string')
  return msg as SnsMessage
}

/** The canonical string SNS signs: `Key\nvalue\n` for each signed key present, in byte order. */
export function snsStringToSign(msg: Record<string, unknown>): string {
  const keys = SIGNED_KEYS.get(String(msg['Type'])) ?? []
  let out = ''
  for (const key of keys) {
    const value = msg[key]
    if (typeof value === 'string') out += `${key}\n${value}\n`
  }
  return out
}

function signatureMatches(msg: SnsMessage, algorithm: string, key: KeyObject): boolean {
  if (key.asymmetricKeyType !== 'rsa') return false
  const signature = Buffer.from(msg.Signature, 'base64')
  if (signature.length === 0) return false
  try {
    return verifySignature(algorithm, Buffer.from(snsStringToSign(msg), 'utf8'), key, signature)
  } catch {
    return false
  }
}

/** The payload rules map from: the parsed Message when it is a JSON document, else the SNS message. */
function payloadOf(msg: SnsMessage): unknown {
  const text = msg.Message.trimStart()
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text)
    } catch {
      // Not JSON after all: map from the SNS message itself.
    }
  }
  return msg
}

/**
 * Creates the `aws-sns` verifier. It refuses, in this order: malformed messages (400), topics outside
 * `topicArns` or disagreeing with `x-amz-sns-topic-arn` (401), unknown SignatureVersion, a SigningCertURL
 * not matching `certUrlPattern` or not a `.pem` (401, nothing fetched), stale timestamps, and bad
 * signatures. Subscription confirmations are answered by GETting SubscribeURL under the same URL rule.
 */
export function createSnsVerifier(config: SnsVerifyConfig, deps: SnsDeps = {}): Verifier {
  const pattern = new RegExp(config.certUrlPattern)
  const topics = new Set(config.topicArns)
  const get = deps.get ?? outboundGet(deps)
  const certs = createCertCache({ get })
  const log = deps.log

  const checkTopic = (msg: SnsMessage, input: VerifyInput): void => {
    if (!topics.has(msg.TopicArn)) throw new RelayError('ERR_TOPIC_NOT_ALLOWED', 'topic is not in topicArns')
    const fromHeader = header(input.headers, 'x-amz-sns-topic-arn')
    if (fromHeader !== undefined && fromHeader !== msg.TopicArn) {
      throw new RelayError('ERR_TOPIC_NOT_ALLOWED', 'x-amz-sns-topic-arn does not match the message topic')
    }
  }

  const checkTime = (timestamp: number, now: number): void => {
    if (Number.isNaN(timestamp)) throw badBody('Timestamp: not a date')
    if (now - timestamp > SNS_MAX_AGE_MS) throw new RelayError('ERR_TIMESTAMP_STALE', 'message is too old')
    if (timestamp - now > SNS_FUTURE_SKEW_MS) {
      throw new RelayError('ERR_TIMESTAMP_STALE', 'message timestamp is in the future')
    }
  }

  const signingKey = async (certUrl: URL, msg: SnsMessage, now: number): Promise<KeyObject> => {
    try {
      return await certs.publicKey(certUrl, now)
    } catch (err) {
      log?.warn(
        { topicArn: msg.TopicArn, certHost: certUrl.host, err: (err as Error).message },
        'SNS signing certificate unavailable',
      )
      throw badSignature('signing certificate unavailable')
    }
  }

  const subscribe = async (msg: SnsMessage): Promise<string> => {
    if (!config.confirmSubscriptions) {
      log?.warn({ topicArn: msg.TopicArn }, 'SNS subscription not confirmed: confirmSubscriptions is off')
      return 'subscription not confirmed (confirmSubscriptions is off)'
    }
    const url = allowedUrl(pattern, String(msg['SubscribeURL']))
    if (!onAwsSnsHost(url))
      throw new RelayError(
        'ERR_CERT_URL_NOT_ALLOWED',
        'SubscribeURL is not https on the AWS SNS host matching certUrlPattern',
      )
    let ok = false
    try {
      ok = await confirmSubscription(get, url)
    } catch {
      ok = false
    }
    if (!ok) {
      log?.warn({ topicArn: msg.TopicArn }, 'SNS subscription confirmation failed')
      // 5xx: SNS sends the confirmation again, so a passing outage does not lose the subscription.
      throw new RelayError('ERR_INTERNAL', 'subscription confirmation failed')
    }
    log?.info({ topicArn: msg.TopicArn }, 'SNS subscription confirmed')
    return 'subscription confirmed'
  }

  return {
    async verify(input: VerifyInput): Promise<Verified> {
      const msg = parseMessage(input.body)
      const typeHeader = header(input.headers, 'x-amz-sns-message-type')
      if (typeHeader !== undefined && typeHeader !== msg.Type) {
        throw badBody('x-amz-sns-message-type does not match the message Type')
      }
      checkTopic(msg, input)
      const algorithm = ALGORITHMS.get(msg.SignatureVersion)
      if (algorithm === undefined) throw badSignature('unsupported SignatureVersion')
      if (Number(msg.SignatureVersion) < config.minSignatureVersion) {
        throw badSignature(
          `SignatureVersion ${msg.SignatureVersion} (SHA1) not accepted: minSignatureVersion is ${config.minSignatureVersion}`,
        )
      }
      const certUrl = allowedUrl(pattern, msg.SigningCertURL)
      if (!onAwsSnsHost(certUrl) || !certUrl.pathname.endsWith('.pem')) {
        throw new RelayError(
          'ERR_CERT_URL_NOT_ALLOWED',
          'SigningCertURL is not an https .pem on the AWS SNS host matching certUrlPattern',
        )
      }
      const eventTime = Date.parse(msg.Timestamp)
      checkTime(eventTime, input.now)
      const key = await signingKey(certUrl, msg, input.now)
      if (!signatureMatches(msg, algorithm, key)) throw badSignature('signature does not match')

      // the certificate that verified it is public: it names the key without being it
      const base = { eventId: msg.MessageId, eventTime, keyId: `cert:${certUrl.origin}${certUrl.pathname}` }
      switch (msg.Type) {
        case 'SubscriptionConfirmation':
          return { ...base, payload: msg, handled: await subscribe(msg) }
        case 'UnsubscribeConfirmation':
          log?.warn({ topicArn: msg.TopicArn }, 'SNS subscription removed')
          return { ...base, payload: msg, handled: 'unsubscribe noted' }
        default:
          return { ...base, payload: payloadOf(msg) }
      }
    },
    close() {
      certs.clear()
    },
  }
}
