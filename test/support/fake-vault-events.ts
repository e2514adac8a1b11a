// The stand-in's event notifications: a WebSocket upgrade, then KV write events as Vault Enterprise sends them (?json=true).
import { createHash, randomUUID } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'

/** Subscribers connected to the fake Vault's event endpoint. */
export interface EventHub {
  /** Sends one `kv-v2/data-write` event (CloudEvents JSON) to every subscriber. */
  announce(mount: string, path: string, version: number): void
  count(): number
  /** Cuts every subscriber (as a failover would). */
  drop(): void
}

/** One unmasked WebSocket text frame (server to client). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8')
  const n = payload.length
  if (n < 126) return Buffer.concat([Buffer.from([0x81, n]), payload])
  const head = Buffer.alloc(n < 65_536 ? 4 : 10)
  head[0] = 0x81
  if (n < 65_536) {
    head[1] = 126
    head.writeUInt16BE(n, 2)
  } else {
    head[1] = 127
    head.writeBigUInt64BE(BigInt(n), 2)
  }
  return Buffer.concat([head, payload])
}

function kvWriteEvent(mount: string, path: string, version: number) {
  return {
    id: randomUUID(),
    source: 'https://vaultproject.io/',
    specversion: '1.0',
    type: '*',
    data: {
      event: {
        id: randomUUID(),
        metadata: {
          current_version: String(version),
          data_path: `${mount}/data/${path}`,
          modified: 'true',
          oldest_version: '0',
          operation: 'data-write',
          path: `${mount}/data/${path}`,
        },
      },
      event_type: 'kv-v2/data-write',
      plugin_info: { mount_class: 'secret', mount_path: `${mount}/`, plugin: 'kv' },
    },
    datacontentype: 'application/cloudevents',
    time: new Date().toISOString(),
  }
}

/**
 * Answers WebSocket upgrades on `server`: `allow(req, path, query)` says whether this one may subscribe
 * (403 otherwise); an allowed one gets the handshake, then server-to-client text frames only.
 */
export function startEventHub(
  server: Server,
  allow: (req: IncomingMessage, path: string, query: URLSearchParams) => boolean,
): EventHub {
  const sockets = new Set<Socket>()
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => sockets.delete(socket))
    const url = new URL(req.url ?? '/', 'http://vault')
    if (!allow(req, url.pathname.replace(/^\/v1\//, ''), url.searchParams)) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n')
      return
    }
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64')
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    )
    sockets.add(socket)
    socket.on('data', (chunk: Buffer) => {
      // A close frame from the client: answer it and end.
      if (((chunk[0] ?? 0) & 0x0f) === 0x8) {
        socket.end(Buffer.from([0x88, 0x00]))
        sockets.delete(socket)
      }
    })
    socket.on('close', () => sockets.delete(socket))
  })
  return {
    announce(mount, path, version) {
      const frame = textFrame(JSON.stringify(kvWriteEvent(mount, path, version)))
      for (const socket of sockets) socket.write(frame)
    },
    count: () => sockets.size,
    drop() {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
  }
}
