// A local notification receiver: checks each request with the relay's own Standard Webhooks verifier.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
  /** The verifier took the signature. */
  verified: boolean
  /** What the receiver answered. */
  status: number
}

export interface Receiver {
  url: string
  received: Received[]
  /** Statuses to answer, in turn; 204 once they run out. */
  answers: number[]
  close(): Promise<void>
}

/** Starts a receiver on 127.0.0.1 that verifies with `secret` (a whsec_ secret). */
export async function startReceiver(secret: string): Promise<Receiver> {
  const verifier = createVerifier(verifySchema.parse({ type: 'standard-webhooks', secrets: [secret] }))
  const received: Received[] = []
  const answers: number[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks)
      let verified = true
      try {
        await verifier.verify({ headers: req.headers, body, now: Date.now() })
      } catch {
        verified = false
      }
      const status = verified ? (answers.shift() ?? 204) : 401
      received.push({ headers: req.headers, body: body.toString('utf8'), verified, status })
      res.statusCode = status
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/relay`,
    received,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
