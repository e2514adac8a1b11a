// `vault-relay events|show|retry|discard|pause|resume|status|name|secrets|resync`: the admin API for humans (never a value).
import { parseArgs } from 'node:util'
import type { Env } from '../config/load.js'
import { type At, call, type Json, list, withQuery } from './admin-call.js'
import { AdminError } from './admin-error.js'
import { runResyncCommand, runSecretsCommand } from './secrets.js'
import { clientSettings } from './settings.js'

export { AdminError }

export const ADMIN_COMMANDS = [
  'events',
  'show',
  'retry',
  'discard',
  'pause',
  'resume',
  'status',
  'name',
  'secrets',
  'resync',
] as const
export type AdminCommand = (typeof ADMIN_COMMANDS)[number]

const counts = (c: unknown) =>
  Object.entries((c ?? {}) as Record<string, number>)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ')

/** What reading a secret back records (a GET, not a write). */
const READ_BACKS = new Set(['read-back', 'outside-change', 'read-back-failed'])

/**
 * A secret's attempts: every write request its history holds (the store's count restarts at 0 on an
 * admin retry, for a fresh delivery.maxAttempts, and leaves out RWX auth failures), and that count when it
 * differs, so a retried secret does not look untried.
 */
function attemptsText(s: Json): string {
  const counted = typeof s.attempts === 'number' ? s.attempts : 0
  const requests = list(s.history).filter(
    (a) => !READ_BACKS.has(String(a.outcome)) && a.status != null,
  ).length
  const total = Math.max(requests, counted)
  return total === counted ? String(total) : `${total} (${counted} toward delivery.maxAttempts)`
}

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
      `  ${s.vault}/${s.name}  ${s.status}  rule ${s.rule ?? '?'}  attempts ${attemptsText(s)}  rwx version ${s.rwxVersion ?? '-'}${readText}`,
    )
    if (s.lastError) lines.push(`    last error: ${s.lastError}`)
    for (const a of list(s.history)) {
      const v = a.version === null || a.version === undefined ? '' : ` v${a.version}`
      lines.push(`    ${a.at}  ${a.outcome}  ${a.status ?? '-'}${v}${a.error ? `  ${a.error}` : ''}`)
    }
  }
  return lines.join('\n')
}

/** The human view of a name's never-regress state (GET /admin/names/…). */
function describeName(n: Json): string {
  const d = n.delivered as Json | null | undefined
  const from = (m: Json) => (m.event ? `  from ${m.source} ${m.event}` : '  (its event is purged)')
  return [
    `${n.vault}/${n.name}`,
    d
      ? `  delivered: event time ${d.eventTime} (${d.eventTimeMs} ms)  secret ${d.secretId}${from(d)}  rwx version ${d.rwxVersion ?? '-'}`
      : '  delivered: nothing (no watermark: any event time is accepted)',
    `  queued ${n.queued}  in flight ${n.inFlight ? 'yes' : 'no'}`,
    `  fence: ${n.fencedUntil ? `held until ${n.fencedUntil}` : 'none'}${n.unconfirmed ? `  unconfirmed since ${n.unconfirmedSince} (its next write is read back)` : ''}`,
  ].join('\n')
}

/** What a reset did, in one line, and whether anything changed. */
function describeReset(doc: Json): { text: string; changed: boolean } {
  const prev = doc.previous as Json | null | undefined
  const done = [
    ...(prev ? [`watermark cleared (was event time ${prev.eventTime}, secret ${prev.secretId})`] : []),
    ...(doc.fenceLifted ? ['fence lifted'] : []),
  ]
  const where = `${doc.vault}/${doc.name}`
  return done.length > 0
    ? { text: `${where}: ${done.join(', ')}`, changed: true }
    : { text: `${where}: nothing changed (no watermark, no live fence to lift)`, changed: false }
}

/**
 * `vault-relay status` exits with this when the relay answered but delivery makes no progress: paused,
 * RWX refusing the token, or the breaker open (1 and 2 stay: unreachable or refused, usage).
 */
export const STATUS_NOT_RUNNING_EXIT = 3

/** What keeps delivery from RWX, after "running" or "PAUSED …"; empty when nothing does. */
function deliveryTrouble(doc: Json): string {
  const rwx = doc.rwx as Json | undefined
  const b = doc.breaker as Json | undefined
  const troubles = [
    ...(rwx?.auth === 'failing'
      ? [
          `RWX refuses the token (401/403: fix RWX_ACCESS_TOKEN; ${rwx.lastSuccessAt ? `nothing delivered since ${rwx.lastSuccessAt}` : 'nothing delivered since this relay started'})`,
        ]
      : []),
    ...(b?.state === 'open' ? [`RWX is failing (breaker open since ${b.openedAt})`] : []),
  ]
  return troubles.length === 0 ? '' : `, but ${troubles.join(', and ')}`
}

function describe(command: Exclude<AdminCommand, 'name' | 'secrets' | 'resync'>, doc: Json): string {
  switch (command) {
    case 'events':
      return list(doc.events)
        .map((e) => `${e.receivedAt}  ${e.source}  ${e.event}  ${counts(e.counts)}`)
        .join('\n')
    case 'show':
      return describeEvent(doc)
    case 'retry':
      return doc.queued === 0
        ? `event ${doc.event}: nothing queued again (a dead value is kept for delivery.keepDeadValuesSeconds, then erased, as a superseded one is at once: the provider must send a new event, or \`vault-relay resync\` reads a reconciled source again)`
        : `event ${doc.event}: ${doc.queued} secret(s) queued`
    case 'discard':
      return doc.discarded === 0
        ? `event ${doc.event}: nothing discarded (no secret of the event was queued or dead)`
        : `event ${doc.event}: ${doc.discarded} secret(s) discarded`
    case 'pause':
    case 'resume':
      return doc.paused ? `delivery paused${doc.reason ? ` (${doc.reason})` : ''}` : 'delivery resumed'
    case 'status': {
      const b = doc.breaker as Json | undefined
      const o = (doc.outsideChanges ?? {}) as Json
      return [
        `delivery: ${doc.paused ? `PAUSED since ${doc.changedAt}${doc.reason ? ` (${doc.reason})` : ''}` : 'running'}${deliveryTrouble(doc)}`,
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
      'lift-fence': { type: 'boolean' },
      by: { type: 'string' },
      state: { type: 'string' },
      vault: { type: 'string' },
      force: { type: 'boolean' },
    },
    allowPositionals: true,
  })
  const settings = clientSettings(values, env)
  if (!settings.token) throw new AdminError('set RELAY_ADMIN_TOKEN (the relay must have it too)', 2)
  const at: At = (method, path, body) => call(settings.url, settings.token!, method, path, body)
  if (command === 'name') return runNameCommand(positionals, values, at, out)
  if (command === 'secrets') {
    if (positionals.length > 0)
      throw new AdminError('usage: vault-relay secrets [--state S] [--vault V] [--source S] [--json]', 2)
    return runSecretsCommand(values, at, out)
  }
  if (command === 'resync') return runResyncCommand(positionals, values, at, out)
  const needsEvent = command === 'show' || command === 'retry' || command === 'discard'
  const [source, eventId] = positionals
  if (needsEvent && (source === undefined || eventId === undefined || positionals.length > 2))
    throw new AdminError(`usage: vault-relay ${command} SOURCE EVENT`, 2)
  const ev = needsEvent ? `/admin/events/${encodeURIComponent(source!)}/${encodeURIComponent(eventId!)}` : ''
  const doc = await {
    events: () => at('GET', withQuery('/admin/events', values, ['source', 'status', 'limit'])),
    show: () => at('GET', ev),
    retry: () => at('POST', `${ev}/retry`),
    discard: () => at('POST', `${ev}/discard`),
    pause: () => at('POST', '/admin/pause', values.reason === undefined ? {} : { reason: values.reason }),
    resume: () => at('POST', '/admin/resume'),
    status: () => at('GET', '/admin/status'),
  }[command]()
  out(values.json ? JSON.stringify(doc, null, 2) : describe(command, doc))
  if (command === 'status' && doc.delivery !== undefined && doc.delivery !== 'running')
    return STATUS_NOT_RUNNING_EXIT
  // A retry or discard that changed nothing (a dead secret's value is erased: it cannot be queued again)
  // must not pass for a success in a script.
  if (command === 'retry' && doc.queued === 0) return 1
  if (command === 'discard' && doc.discarded === 0) return 1
  return 0
}

const NAME_USAGE =
  'usage: vault-relay name show VAULT NAME | name reset VAULT NAME --reason TEXT [--lift-fence]'

/**
 * `name show VAULT NAME` and `name reset VAULT NAME --reason TEXT [--lift-fence] [--by WHO]`. A reset that
 * changed nothing (no watermark, no live fence) exits 1, as an unknown name does.
 */
async function runNameCommand(
  positionals: string[],
  values: { json?: boolean; reason?: string; 'lift-fence'?: boolean; by?: string },
  at: At,
  out: (text: string) => void,
): Promise<number> {
  const [sub, vault, name] = positionals
  if (
    (sub !== 'show' && sub !== 'reset') ||
    vault === undefined ||
    name === undefined ||
    positionals.length > 3
  )
    throw new AdminError(NAME_USAGE, 2)
  const path = `/admin/names/${encodeURIComponent(vault)}/${encodeURIComponent(name)}`
  if (sub === 'show') {
    const doc = await at('GET', path)
    out(values.json ? JSON.stringify(doc, null, 2) : describeName(doc))
    return 0
  }
  if (values.reason === undefined || values.reason.trim() === '')
    throw new AdminError(`a reset needs --reason TEXT (kept in the relay's log)\n${NAME_USAGE}`, 2)
  const doc = await at('POST', `${path}/reset`, {
    reason: values.reason,
    liftFence: values['lift-fence'] === true,
    ...(values.by === undefined ? {} : { by: values.by }),
  })
  const { text, changed } = describeReset(doc)
  out(values.json ? JSON.stringify(doc, null, 2) : text)
  return changed ? 0 : 1
}
