// Actions: pause, resume, retry, discard, retry or discard a group of dead letters, resync. Each asks first (a confirm page
// that works without JavaScript), needs an admin session and a CSRF token, and goes in the audit list.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RelayError } from '../../errors.js'
import { actingSession, audit, type ConsoleContext, declaredOf, reconcilingOf, sendPage } from '../context.js'
import { html } from '../html.js'
import { csrfField } from '../layout.js'
import { deadLetters } from './dead-letters.js'
import { eventHref } from './events.js'
import { secretHref } from './secrets.js'

type Fields = Record<string, string>

interface Action {
  /** What the confirm page asks. */
  ask(f: Fields): string
  /** Does it; returns where to go next. */
  run(ctx: ConsoleContext, f: Fields, request: FastifyRequest): Promise<string>
}

const MAX_REASON = 200

function reasonOf(f: Fields): string {
  const reason = (f.reason ?? '').trim()
  if (reason === '' || reason.length > MAX_REASON)
    throw new RelayError('ERR_BAD_REQUEST', `give a reason of 1 to ${MAX_REASON} characters`)
  return reason
}

/** `source/eventId` (a source id has no slash; an event id may). */
function targetOf(f: Fields): { source: string; eventId: string } {
  const t = f.target ?? ''
  const slash = t.indexOf('/')
  if (slash < 1 || slash === t.length - 1) throw new RelayError('ERR_BAD_REQUEST', 'no event named')
  return { source: t.slice(0, slash), eventId: t.slice(slash + 1) }
}

/** What a resync is about: one declared vault/name (`target`), or every declared name of `source`. */
function resyncOf(ctx: ConsoleContext, f: Fields) {
  if (ctx.reconcile === undefined || reconcilingOf(ctx).length === 0)
    throw new RelayError('ERR_NOT_FOUND', 'no source reconciles: add reconcile to a source')
  if (f.target !== undefined) {
    const [vault = '', name = ''] = f.target.split('/')
    const d = declaredOf(ctx).find(
      (x) => x.vault === vault && x.name === name && `${vault}/${name}` === f.target,
    )
    if (d === undefined) throw new RelayError('ERR_NOT_FOUND', `no reconciling source declares ${f.target}`)
    return { source: d.source, names: [{ vault, name }], label: f.target, next: secretHref(vault, name) }
  }
  const source = f.source ?? ''
  if (!reconcilingOf(ctx).includes(source))
    throw new RelayError('ERR_NOT_FOUND', `no reconciling source ${source}`)
  return {
    source,
    names: [],
    label: `source ${source}`,
    next: `/ui/secrets?source=${encodeURIComponent(source)}`,
  }
}

/** The group of dead letters an action names: a reason, within the page's source filter. */
const groupOf = (f: Fields) => `${f.source ? ` of source ${f.source}` : ''} that died of “${f.reason ?? ''}”`

const deadHref = (source: string | undefined) =>
  source === undefined ? '/ui/dead' : `/ui/dead?source=${encodeURIComponent(source)}`

/** The events of a group of dead letters (each once), and how the audit list names the group. */
async function deadGroup(ctx: ConsoleContext, f: Fields) {
  const source = f.source?.trim() || undefined
  const letters = (await deadLetters(ctx.store, source)).get(f.reason ?? '') ?? []
  const events = [...new Map(letters.map((d) => [`${d.source}/${d.eventId}`, d])).values()]
  const filter = `dead of “${(f.reason ?? '').slice(0, 120)}”${source ? ` in ${source}` : ''}`
  return { source, events, filter }
}

const ACTIONS = new Map<string, Action>([
  [
    'pause',
    {
      ask: (f) =>
        `Pause delivery to RWX on every replica? Webhooks are still accepted and queued. Reason: “${reasonOf(f)}”`,
      async run(ctx, f, request) {
        const reason = reasonOf(f)
        await ctx.pause.set(true, reason)
        await audit(ctx, actingSession(request), 'pause', null, reason)
        return '/ui'
      },
    },
  ],
  [
    'resume',
    {
      ask: () => 'Resume delivery to RWX on every replica?',
      async run(ctx, _f, request) {
        await ctx.pause.set(false, null)
        ctx.onRequeued?.()
        await audit(ctx, actingSession(request), 'resume', null, null)
        return '/ui'
      },
    },
  ],
  [
    'retry',
    {
      ask: (f) =>
        `Retry event ${f.target ?? ''} now? Its queued secrets become due, and dead ones whose value can be fetched again are queued.`,
      async run(ctx, f, request) {
        const { source, eventId } = targetOf(f)
        if ((await ctx.store.getEvent(source, eventId)) === null)
          throw new RelayError('ERR_NOT_FOUND', 'no such event')
        const queued = await ctx.store.retryEvent(source, eventId, ctx.clock())
        if (queued > 0) ctx.onRequeued?.()
        await audit(ctx, actingSession(request), 'retry', `${source}/${eventId}`, `${queued} queued`)
        return eventHref(source, eventId)
      },
    },
  ],
  [
    'discard',
    {
      ask: (f) =>
        `Discard the queued and dead secrets of event ${f.target ?? ''}? Their values are erased and never delivered; delivered ones stay.`,
      async run(ctx, f, request) {
        const { source, eventId } = targetOf(f)
        if ((await ctx.store.getEvent(source, eventId)) === null)
          throw new RelayError('ERR_NOT_FOUND', 'no such event')
        const discarded = await ctx.store.discardEvent(source, eventId, ctx.clock())
        await audit(ctx, actingSession(request), 'discard', `${source}/${eventId}`, `${discarded} discarded`)
        return eventHref(source, eventId)
      },
    },
  ],
  [
    'retry-dead',
    {
      ask: (f) => `Retry every dead letter${groupOf(f)}?`,
      async run(ctx, f, request) {
        const { source, events, filter } = await deadGroup(ctx, f)
        let queued = 0
        for (const d of events) queued += await ctx.store.retryEvent(d.source, d.eventId, ctx.clock())
        if (queued > 0) ctx.onRequeued?.()
        await audit(
          ctx,
          actingSession(request),
          'retry-dead',
          filter,
          `${events.length} events, ${queued} queued`,
        )
        return deadHref(source)
      },
    },
  ],
  [
    'discard-dead',
    {
      ask: (f) =>
        `Discard every dead letter${groupOf(f)}? Each one's event is discarded: its queued and dead secrets, values erased; delivered ones stay.`,
      async run(ctx, f, request) {
        const { source, events, filter } = await deadGroup(ctx, f)
        let discarded = 0
        for (const d of events) discarded += await ctx.store.discardEvent(d.source, d.eventId, ctx.clock())
        await audit(
          ctx,
          actingSession(request),
          'discard-dead',
          filter,
          `${events.length} events, ${discarded} discarded`,
        )
        return deadHref(source)
      },
    },
  ],
  [
    'resync',
    {
      ask: (f) =>
        `Resync ${f.target ?? `every secret of source ${f.source ?? ''}`} now? The source is read now and a version newer than the one delivered is queued for RWX.`,
      async run(ctx, f, request) {
        const session = actingSession(request)
        const r = resyncOf(ctx, f)
        const done = await ctx.reconcile!.resync({ source: r.source, names: r.names })
        const queued = done.secrets.filter((s) => s.outcome === 'queued' || s.outcome === 'repair').length
        if (queued > 0) ctx.onRequeued?.()
        await audit(ctx, session, 'resync', r.label, `${done.secrets.length} read, ${queued} queued`)
        return r.next
      },
    },
  ],
])

/** The fields an action carries through its confirm page (never a token). */
const CARRIED = ['reason', 'target', 'source'] as const

function confirmPage(request: FastifyRequest, reply: FastifyReply, name: string, action: Action, f: Fields) {
  const question = action.ask(f)
  return sendPage(request, reply, {
    title: 'Confirm',
    section: 'none',
    body: (csrf) => html`
<form method="post" action="/ui/actions/${name}" class="confirm">
  ${csrfField(csrf)}
  ${CARRIED.filter((k) => f[k] !== undefined).map((k) => html`<input type="hidden" name="${k}" value="${f[k]}">`)}
  <input type="hidden" name="confirm" value="yes">
  <p id="question">${question}</p>
  <button type="submit" aria-describedby="question">Yes, ${name.replace('-', ' ')}</button>
  <a href="/ui" class="button-link">Cancel</a>
</form>`,
  })
}

export function actionRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.post<{ Params: { action: string }; Body: Fields | null }>(
    '/actions/:action',
    async (request, reply) => {
      const action = ACTIONS.get(request.params.action)
      if (action === undefined) return reply.callNotFound()
      actingSession(request)
      const f: Fields = Object.create(null)
      for (const [k, v] of Object.entries(request.body ?? {})) if (typeof v === 'string') f[k] = v
      if (f.confirm !== 'yes') return confirmPage(request, reply, request.params.action, action, f)
      const next = await action.run(ctx, f, request)
      request.log.warn({ action: request.params.action, session: request.uiSession?.id }, 'console action')
      return reply.redirect(next, 303)
    },
  )
}
