// What every console page gets: the relay's parts it reads and steers, and the shared render helpers.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PauseSwitch } from '../delivery/pause.js'
import type { DeliveryHandle } from '../delivery/types.js'
import { RelayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Store } from '../queue/store.js'
import type { ReconcileHandle } from '../reconcile/inventory.js'
import type { Part } from './html.js'
import { page, type Section } from './layout.js'
import { actorOf, type Session } from './session.js'
import type { Trends } from './trends.js'

/** A configured source as the overview lists it: never a key or a secret. */
export interface SourceSummary {
  id: string
  verifier: string
  route: string
  rules: number
  /** The vaults its rules write to, as configured (templates as written). */
  vaults: string[]
}

/** The console's options: what the relay hands it (src/app.ts). */
export interface ConsoleOptions {
  adminToken: string
  readOnlyToken?: string | undefined
  sessionMinutes: number
  store: Store
  pause: PauseSwitch
  delivery?: DeliveryHandle | undefined
  metrics: Metrics
  sources: readonly SourceSummary[]
  clock: () => number
  /** Reconciliation in this process: its declared names join the inventory, and resync uses it. */
  reconcile?: ReconcileHandle | undefined
  /** Wakes the delivery worker after a retry or a resume. */
  onRequeued?: (() => void) | undefined
}

/** The options plus what the plugin made: the trends sampler. */
export interface ConsoleContext extends ConsoleOptions {
  trends: Trends
}

/** The configured sources' ids, as the pages' source filters offer them. */
export const sourceIds = (ctx: ConsoleContext): string[] => ctx.sources.map((s) => s.id)

/** Every declared secret of every reconciling source (none when no source reconciles). */
export const declaredOf = (ctx: ConsoleContext) => ctx.reconcile?.declared ?? []

/**
 * The ids of the reconciling sources, as /admin/resync knows them: a source of Vault prefixes only
 * declares nothing before its first listing, yet can be resynced.
 */
export const reconcilingOf = (ctx: ConsoleContext): readonly string[] =>
  ctx.reconcile?.sources ?? [...new Set(declaredOf(ctx).map((d) => d.source))]

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session, once the plugin's hook has checked the cookie; null when none. */
    uiSession: Session | null
  }
}

/** Sends a whole page: the shell around `body`, with a fresh CSRF token for its forms. */
export function sendPage(
  request: FastifyRequest,
  reply: FastifyReply,
  o: { title: string; section: Section; body: (csrf: string) => Part; status?: number },
): FastifyReply {
  const csrf = reply.generateCsrf()
  return reply
    .code(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(
      page({ title: o.title, section: o.section, session: request.uiSession, csrf, body: o.body(csrf) }).text,
    )
}

/** The session of a request that may act; throws 403 for a read-only one. */
export function actingSession(request: FastifyRequest): Session {
  const s = request.uiSession
  if (s === null || s.role !== 'admin')
    throw new RelayError('ERR_FORBIDDEN', 'this session is read-only: it can see but not act')
  return s
}

/** Records an action in the audit list; who is the session, never the token. */
export async function audit(
  ctx: ConsoleContext,
  session: Session,
  action: string,
  target: string | null,
  detail: string | null,
): Promise<void> {
  await ctx.store.recordAudit({ at: ctx.clock(), actor: actorOf(session), action, target, detail })
}
