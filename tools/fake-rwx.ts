// A local stand-in for RWX's vault secrets API (set, and read metadata back), with programmable faults;
// the demo, the benchmark and the tests use it.
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type {
  FakeRwx,
  FakeRwxOptions,
  Fault,
  RecordedRequest,
  RecordedWrite,
  StoredSecret,
} from './fake-rwx-types.js'

export type * from './fake-rwx-types.js'

const PATH = '/mint/api/vaults/secrets'
const NAME = /^[A-Za-z0-9_-]+$/

/** Starts the fake on 127.0.0.1 and a free port. */
export async function startFakeRwx(options: FakeRwxOptions = {}): Promise<FakeRwx> {
  let token = options.token ?? 'test-token'
  const known = options.vaults ? new Set(options.vaults) : null
  const requests: RecordedRequest[] = []
  const writes: RecordedWrite[] = []
  const vaults = new Map<string, Map<string, StoredSecret>>()
  const faults: Fault[] = []
  const watchers = new Set<() => void>()
  let delayMs = 0
  let delayTimes = Number.POSITIVE_INFINITY
  let rejected: ((name: string) => boolean) | null = null
  let omitted: ((name: string) => boolean) | null = null
  let reads: ((vault: string, name: string) => number | null | undefined) | null = null
  let bare: { stored: boolean } | null = null

  const changed = () => {
    for (const w of [...watchers]) w()
  }

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const rec: RecordedRequest = {
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: parseJson(raw),
      status: 0,
    }
    requests.push(rec)
    changed()
    const fault = faults.shift()
    if (fault === undefined && delayMs > 0 && delayTimes > 0) {
      delayTimes--
      await new Promise((r) => setTimeout(r, delayMs))
    }
    rec.status = fault ? answerFault(res, fault) : handle(req.method, req.url, req.headers, rec.body, res)
    rec.answeredAt = Date.now()
    changed()
  })

  function handle(
    method: string | undefined,
    url: string | undefined,
    headers: IncomingHttpHeaders,
    body: unknown,
    res: ServerResponse,
  ): number {
    const read = method === 'GET' && url?.startsWith(`${PATH}/`)
    if (!read && (method !== 'POST' || url !== PATH)) return send(res, 404, { error: 'Not found' })
    const auth = headers.authorization
    if (auth === undefined) return send(res, 403, { error: 'Missing authentication header' })
    if (auth !== `Bearer ${token}`) return send(res, 401, { error: 'Invalid authentication token' })
    if (read) return readMetadata(new URL(url ?? '', 'http://fake'), res)
    if (!headers['content-type']?.startsWith('application/json')) return send(res, 400)
    if (!isObject(body) || !Array.isArray(body['secrets']))
      return send(res, 400, { error: 'Invalid request body' })
    const vault = body['vault_name']
    if (typeof vault !== 'string' || !NAME.test(vault)) return send(res, 400, { error: 'Invalid vault name' })
    if (known && !known.has(vault)) return send(res, 404, { error: 'Vault not found' })
    if (bare?.stored === false) return send(res, 200, {})
    const failures: string[] = []
    const set: string[] = []
    // A Map, not `{}`: a secret named `__proto__` would set the prototype instead of a key.
    const versions = new Map<string, number>()
    for (const s of body['secrets'] as unknown[]) {
      const name = isObject(s) && typeof s['name'] === 'string' ? s['name'] : ''
      const secret = isObject(s) ? s['secret'] : undefined
      const description = isObject(s) && typeof s['description'] === 'string' ? s['description'] : undefined
      if (!NAME.test(name) || rejected?.(name)) {
        failures.push(
          `${name || '(blank)'}: name can only include alphanumeric characters, dashes, or underscores`,
        )
        continue
      }
      if (typeof secret !== 'string' || secret === '') {
        failures.push(`${name}: secret can't be blank`)
        continue
      }
      if (omitted?.(name)) continue
      const stored = vaults.get(vault) ?? new Map<string, StoredSecret>()
      vaults.set(vault, stored)
      const version = (stored.get(name)?.version ?? 0) + 1
      stored.set(name, description === undefined ? { secret, version } : { secret, version, description })
      const write: RecordedWrite = { at: Date.now(), vault, name, secret, version }
      if (description !== undefined) write.description = description
      writes.push(write)
      set.push(name)
      versions.set(name, version)
    }
    // Not atomic, as RWX documents: the valid secrets above are stored even when others fail.
    if (failures.length > 0)
      return send(res, 400, { error: `Some secrets failed validation: ${failures.join('; ')}` })
    if (bare) return send(res, 200, {})
    return send(res, 200, { set_secrets: set, versions: Object.fromEntries(versions) })
  }

  /** `GET /mint/api/vaults/secrets/{name}?vault_name=`: metadata `{name, description, version}`, never the value. */
  function readMetadata(url: URL, res: ServerResponse): number {
    const name = decodeURIComponent(url.pathname.slice(PATH.length + 1))
    const vault = url.searchParams.get('vault_name') ?? ''
    if (known && !known.has(vault)) return send(res, 404, { error: 'Vault not found' })
    const stored = vaults.get(vault)?.get(name)
    const version = reads?.(vault, name)
    if (version === null || (version === undefined && stored === undefined))
      return send(res, 404, { error: 'Secret not found' })
    return send(res, 200, {
      name,
      description: stored?.description ?? null,
      version: version ?? stored?.version,
    })
  }

  await listen(0)
  const port = (server.address() as AddressInfo).port

  async function listen(p: number): Promise<void> {
    server.listen(p, '127.0.0.1')
    await once(server, 'listening')
  }

  async function stop(): Promise<void> {
    if (!server.listening) return
    const closed = new Promise<void>((r) => server.close(() => r()))
    server.closeAllConnections()
    await closed
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get token() {
      return token
    },
    requests,
    writes,
    secrets: (vault) => new Map(vaults.get(vault) ?? []),
    failNext(n, fault) {
      for (let i = 0; i < n; i++) faults.push(fault)
    },
    down: stop,
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    delay(ms, times = Number.POSITIVE_INFINITY) {
      delayMs = ms
      delayTimes = times
    },
    rejectNames(pred) {
      rejected = pred
    },
    setToken(t) {
      token = t
    },
    overrideReads(fn) {
      reads = fn
    },
    alter(vault, name, version) {
      const stored = vaults.get(vault)
      const current = stored?.get(name)
      if (stored === undefined || current === undefined) return
      if (version === null) stored.delete(name)
      else stored.set(name, { ...current, version })
    },
    answerBare(mode) {
      bare = mode
    },
    omitFromSetSecrets(pred) {
      omitted = pred
    },
    waitFor(pred, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pred(writes, requests)) return
          cleanup()
          resolve()
        }
        const timer = setTimeout(() => {
          cleanup()
          const statuses = requests.map((r) => r.status).join(',')
          reject(
            new Error(
              `fake RWX: condition not met in ${timeoutMs} ms (writes: ${writes.length}, answers: ${statuses})`,
            ),
          )
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          watchers.delete(check)
        }
        watchers.add(check)
        check()
      })
    },
    reset() {
      requests.length = 0
      writes.length = 0
      vaults.clear()
      faults.length = 0
      delayMs = 0
      rejected = null
      omitted = null
      reads = null
      bare = null
    },
    close: stop,
  }
}

function answerFault(res: ServerResponse, fault: Fault): number {
  for (const [k, v] of Object.entries(fault.headers ?? {})) res.setHeader(k, v)
  if (fault.retryAfter !== undefined) res.setHeader('retry-after', String(fault.retryAfter))
  return send(res, fault.status, fault.body)
}

function send(res: ServerResponse, status: number, body?: unknown): number {
  if (res.destroyed) return status
  if (body === undefined) {
    res.writeHead(status).end()
  } else if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body)
  } else {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  return status
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
