// Maps `verify.type` to its verifier, and makes every verifier fail closed.
import type { Dispatcher } from 'undici'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import type { ProxyConfig } from '../http/outbound.js'
import { createApiKeyVerifier } from './api-key.js'
import { createSnsVerifier, type SnsLog } from './aws-sns.js'
import { createAzureEventGridVerifier } from './azure-event-grid.js'
import { createBasicVerifier } from './basic.js'
import { createGooglePubsubVerifier } from './google-pubsub.js'
import { createHmacVerifier } from './hmac.js'
import { createJwtVerifier } from './jwt.js'
import { createStandardWebhooksVerifier } from './standard-webhooks.js'
import { createStripeVerifier } from './stripe.js'
import type { Verifier } from './types.js'

/** What verifiers may be given from outside; each scheme takes only the parts it uses. */
export interface VerifierDeps {
  /**
   * undici dispatcher (the proxy-aware one) for remote keys and certificates: SNS, Kubernetes issuers and
   * a jwt `jwksUrl` send their bounded GETs over it (http/get.ts outboundGet); undici's global one when unset.
   */
  dispatcher?: Dispatcher
  /** The outbound proxy a Kubernetes issuer with its own `caFile` builds its dispatcher with. */
  proxy?: ProxyConfig
  /** A fetch for jwt keys (a `jwksUrl`, Kubernetes discovery) instead of one over `dispatcher` (tests). */
  fetch?: typeof fetch
  /** Where verifiers log what they did on their own (SNS subscription confirmations, certificate failures). */
  log?: SnsLog
}

type VerifyType = VerifyConfig['type']
type Factory<T extends VerifyType> = (
  config: Extract<VerifyConfig, { type: T }>,
  deps: VerifierDeps,
) => Verifier

/** One line per scheme; a type without an entry is refused when the verifier is created. */
const FACTORIES: { [T in VerifyType]?: Factory<T> } = {
  stripe: createStripeVerifier,
  'standard-webhooks': createStandardWebhooksVerifier,
  hmac: createHmacVerifier,
  'api-key': createApiKeyVerifier,
  basic: createBasicVerifier,
  jwt: createJwtVerifier,
  'aws-sns': (c, { dispatcher, log }) => createSnsVerifier(c, { dispatcher, log }),
  'azure-event-grid': createAzureEventGridVerifier,
  'google-pubsub': createGooglePubsubVerifier,
}

/**
 * Wraps a verifier so an unexpected exception is a refusal (401) rather than a crash or a pass. The
 * original error is dropped on purpose: it could quote request data.
 */
export function failClosed(inner: Verifier): Verifier {
  const closed = <T>(run: () => Promise<T>) =>
    run().catch((err: unknown) => {
      if (err instanceof RelayError) throw err
      throw new RelayError('ERR_SIGNATURE_INVALID', 'verification failed')
    })
  const preflight = inner.preflight?.bind(inner)
  return {
    verify: (input) => closed(() => inner.verify(input)),
    ...(preflight === undefined ? {} : { preflight: (input) => closed(() => preflight(input)) }),
    close: () => inner.close?.(),
  }
}

/**
 * Creates the verifier for one source's `verify` block. Throws an Error (a configuration problem, never
 * quoting a secret) when a key cannot be read or the type has no verifier yet.
 */
export function createVerifier(config: VerifyConfig, deps: VerifierDeps = {}): Verifier {
  const factory = FACTORIES[config.type] as Factory<VerifyType> | undefined
  if (factory === undefined) throw new Error(`${config.type} verifier not available`)
  return failClosed(factory(config, deps))
}
