// A small HTTP CONNECT proxy on loopback that records each tunnel it opens (to loopback targets only).
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'

export interface ConnectProxy {
  /** e.g. http://127.0.0.1:41234 */
  url: string
  /** `host:port` of every CONNECT, in order. */
  tunnels: string[]
  close(): Promise<void>
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: string[] = []
  const server: Server = createServer((_req, res) => {
    // Only tunnels: a request sent to the proxy as plain HTTP is a test failure, not a pass.
    res.writeHead(405).end('CONNECT only')
  })
  server.on('connect', (req, client, head) => {
    const target = req.url ?? ''
    tunnels.push(target)
    const [host, port] = target.split(':')
    if (host !== '127.0.0.1' && host !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    const upstream = connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
