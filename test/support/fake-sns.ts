// A stand-in for SNS on loopback: a test CA, signing certificates served over HTTP, and real message signing.
import { createPrivateKey, type KeyObject, sign, webcrypto } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, type Dispatcher } from 'undici'
import { issueLeaf } from './x509.js'

/** A certificate and the private key that signs with it. */
export interface TestSigner {
  pem: string
  key: KeyObject
}

async function toKeyObject(key: webcrypto.CryptoKey): Promise<KeyObject> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key)
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
}

/** A test CA and a leaf it issued, valid from `notBefore` to `notAfter` (default: yesterday to +30 days). */
export async function issueSigner(window: { notBefore?: Date; notAfter?: Date } = {}): Promise<TestSigner> {
  const leaf = await issueLeaf('CN=sns.test.amazonaws.com', window)
  return { pem: leaf.cert.toString('pem'), key: await toKeyObject(leaf.keys.privateKey) }
}

/** Byte-ordered signed keys per type, written from the AWS docs independently of src/. */
function stringToSign(msg: Record<string, string>): string {
  const keys =
    msg['Type'] === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
  return keys
    .filter((k) => msg[k] !== undefined)
    .map((k) => `${k}\n${msg[k]}\n`)
    .join('')
}

/** Signs `fields` as SNS does, adding SignatureVersion, Signature and SigningCertURL. */
export function signMessage(
  fields: Record<string, string>,
  signer: TestSigner,
  certUrl: string,
  version: '1' | '2' = '1',
): Record<string, string> {
  const signature = sign(version === '1' ? 'sha1' : 'sha256', Buffer.from(stringToSign(fields)), signer.key)
  return {
    ...fields,
    SignatureVersion: version,
    Signature: signature.toString('base64'),
    SigningCertURL: certUrl,
  }
}

/** A loopback HTTP server playing the SNS endpoints the relay calls. */
/** The AWS origin the fake stands in for: the relay only fetches https URLs on AWS's SNS host. */
export const AWS_SNS_ORIGIN = 'https://sns.eu-west-1.amazonaws.com'

/**
 * An undici interceptor sending requests for AWS_SNS_ORIGIN to `base` instead (the loopback fake), so
 * the verifier sees genuine AWS URLs while the bytes come from the fake. Other origins pass untouched.
 */
export function toFakeSns(base: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(String(opts.origin) === AWS_SNS_ORIGIN ? { ...opts, origin: base } : opts, handler)
}

export interface FakeSns {
  /** `http://127.0.0.1:PORT` */
  base: string
  /** A dispatcher that serves AWS_SNS_ORIGIN from this fake (pass it as the verifier's `dispatcher`). */
  dispatcher: Dispatcher
  /** Paths requested, in order (certificates, confirmations, anything). */
  requests: string[]
  /** The headers of each request, in the same order. */
  headers: IncomingHttpHeaders[]
  /** Serves `pem` at `path` (e.g. `/SimpleNotificationService-test.pem`); returns its AWS URL. */
  serve(path: string, pem: string): string
  /** Answers `path` with `status` and an optional `location` or body; returns its AWS URL. */
  answer(path: string, status: number, options?: { location?: string; body?: string }): string
  close(): Promise<void>
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeSns(): Promise<FakeSns> {
  const routes = new Map<string, { status: number; body: string; location?: string }>()
  const requests: string[] = []
  const headers: IncomingHttpHeaders[] = []
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push(url)
    headers.push(req.headers)
    const route = routes.get(url.split('?')[0] ?? url)
    if (route === undefined) {
      res.writeHead(404).end('not found')
      return
    }
    const answer: Record<string, string> = { 'content-type': 'text/plain' }
    if (route.location !== undefined) answer['location'] = route.location
    res.writeHead(route.status, answer).end(route.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const agent = new Agent()
  return {
    base,
    dispatcher: agent.compose(toFakeSns(base)),
    requests,
    headers,
    serve(path, pem) {
      routes.set(path, { status: 200, body: pem })
      return AWS_SNS_ORIGIN + path
    },
    answer(path, status, options = {}) {
      routes.set(path, {
        status,
        body: options.body ?? '',
        ...(options.location ? { location: options.location } : {}),
      })
      return AWS_SNS_ORIGIN + path
    },
    async close() {
      await agent.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
