// `vault-relay events|show|retry|discard|pause|resume|status`: the admin API for humans (never a value).
import { parseArgs } from 'node:util'
import { request } from 'undici'
import type { Env } from '../config/load.js'
import { clientSettings } from './settings.js'

export const ADMIN_COMMANDS = ['events', 'show', 'retry', 'discard', 'pause', 'resume', 'status'] as const
export type AdminCommand = (typeof ADMIN_COMMANDS)[number]

/** A failure to report in one line: the relay's problem detail or why it is unreachable (1), or usage (2). */
export class AdminError extends Error {
  override readonly name = 'AdminError'
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message)
  }
}

const TIMEOUT_MS = 10_000

/** Calls the admin API; resolves with the JSON answer, throws AdminError on anything else. */
async function call(url: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  let res: Awaited<ReturnType<typeof request>>
  try {
    res = await request(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    })
  } catch (err) {
    throw new AdminError(`cannot reach the relay at ${url}: ${(err as Error).message}`)
  }
  const text = await res.body.text()
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return doc as Record<string, unknown>
  const detail = (doc as { detail?: unknown } | undefined)?.detail
  const hint =
    res.statusCode === 404 && detail === undefined ? ' (is RELAY_ADMIN_TOKEN set on the relay?)' : ''
  throw new AdminError(
    `the relay answered ${res.statusCode}: ${typeof detail === 'string' ? detail : 'no detail'}${hint}`,
  )
}

type Json = Record<string, unknown>
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : [])
const counts = (c: unknown) =>
  Object.entries((c ?? {}) as Record<string, number>)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ')

/** The human view of one event and its provenance. */
export function describeEvent(e: Json): string {
  const p = (e.provenance ?? {}) as Json
  const lines = [
    `event ${e.event} from ${e.source}`,
    `  received ${e.receivedAt}  event time ${e.eventTime}  verifier ${p.verifier ?? '?'}  key ${p.keyId ?? '?'}`,
  ]
  for (const s of list(e.secrets)) {
    const read = s.readBack as Json | null | undefined
    const readText = read
      ? `  read back v${read.version ?? 'none'}${read.outsideChange ? ' (OUTSIDE CHANGE)' : ''}`
      : ''
    lines.push(
      `  ${s.vault}/${s.name}  ${s.status}  rule ${s.rule ?? '?'}  attempts ${s.attempts}  rwx version ${s.rwxVersion ?? '-'}${readText}`,
    )
    if (s.lastError) lines.push(`    last error: ${s.lastError}`)
    for (const a of list(s.history)) {
      const v = a.version === null || a.version === undefined ? '' : ` v${a.version}`
      lines.push(`    ${a.at}  ${a.outcome}  ${a.status ?? '-'}${v}${a.error ? `  ${a.error}` : ''}`)
    }
  }
  return lines.join('\n')
}

function describe(command: AdminCommand, doc: Json): string {
  switch (command) {
    case 'events':
      return list(doc.events)
        .map((e) => `${e.receivedAt}  ${e.source}  ${e.event}  ${counts(e.counts)}`)
        .join('\n')
    case 'show':
      return describeEvent(doc)
    case 'retry':
      return `event ${doc.event}: ${doc.queued} secret(s) queued`
    case 'discard':
      return `event ${doc.event}: ${doc.discarded} secret(s) discarded`
    case 'pause':
    case 'resume':
      return doc.paused ? `delivery paused${doc.reason ? ` (${doc.reason})` : ''}` : 'delivery resumed'
    case 'status': {
      const b = doc.breaker as Json | undefined
      const o = (doc.outsideChanges ?? {}) as Json
      return [
        `delivery: ${doc.paused ? `PAUSED since ${doc.changedAt}${doc.reason ? ` (${doc.reason})` : ''}` : 'running'}`,
        `queue: ${counts(doc.queue)}`,
        ...(b
          ? [`rwx breaker: ${b.state}${b.state === 'open' ? ` (next probe ${b.nextProbeAt})` : ''}`]
          : []),
        `outside changes: ${o.total ?? 0}`,
        ...list(o.latest).map(
          (c) =>
            `  ${c.at}  ${c.vault}/${c.name}  wrote v${c.written} read ${c.readBack ?? '404'}  (${c.source} ${c.event})`,
        ),
      ].join('\n')
    }
  }
}

/** Runs one admin command; returns the exit code. Output goes to `out`. */
export async function runAdminCommand(
  command: AdminCommand,
  args: string[],
  env: Env,
  out: (text: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      source: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      reason: { type: 'string' },
    },
    allowPositionals: true,
  })
  const settings = clientSettings(values, env)
  if (!settings.token) throw new AdminError('set RELAY_ADMIN_TOKEN (the relay must have it too)', 2)
  const needsEvent = command === 'show' || command === 'retry' || command === 'discard'
  const [source, eventId] = positionals
  if (needsEvent && (source === undefined || eventId === undefined || positionals.length > 2))
    throw new AdminError(`usage: vault-relay ${command} SOURCE EVENT`, 2)
  const ev = needsEvent ? `/admin/events/${encodeURIComponent(source!)}/${encodeURIComponent(eventId!)}` : ''
  const query = new URLSearchParams()
  for (const k of ['source', 'status', 'limit'] as const) if (values[k] !== undefined) query.set(k, values[k])
  const at = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    call(settings.url, settings.token!, method, path, body)
  const doc = await {
    events: () => at('GET', `/admin/events${query.size > 0 ? `?${query}` : ''}`),
    show: () => at('GET', ev),
    retry: () => at('POST', `${ev}/retry`),
    discard: () => at('POST', `${ev}/discard`),
    pause: () => at('POST', '/admin/pause', values.reason === undefined ? {} : { reason: values.reason }),
    resume: () => at('POST', '/admin/resume'),
    status: () => at('GET', '/admin/status'),
  }[command]()
  out(values.json ? JSON.stringify(doc, null, 2) : describe(command, doc))
  return 0
}
