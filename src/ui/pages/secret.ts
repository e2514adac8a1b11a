// A secret's page: its inventory entry (versions, state), its never-regress state, a resync for an admin,
// and its history as a timeline (events, attempts with RWX status, read-backs, the last reconcile).
import type { FastifyInstance } from 'fastify'
import { NAME_PATTERN } from '../../config/schema.js'
import { type ConsoleContext, declaredOf, sendPage } from '../context.js'
import { html, time } from '../html.js'
import { csrfField } from '../layout.js'
import { HISTORY_SCAN, secretHistory, type TimelineItem } from '../timeline.js'
import { eventHref } from './events.js'
import { stateBadge, versionAt } from './secrets.js'

const KIND = new Map<TimelineItem['kind'], string>([
  ['event', 'value arrived'],
  ['attempt', 'attempt'],
  ['reconcile', 'reconcile'],
])

function line(i: TimelineItem) {
  return html`<li class="timeline-${i.kind}"><span>${time(i.at)}</span>
  <strong>${KIND.get(i.kind)}</strong>${i.kind === 'event' ? ' (now)' : ''} <span class="badge badge-${i.what}">${i.what}</span>
  ${i.status !== null ? html` RWX ${i.status}` : ''}${i.version !== null ? html` version ${i.version}` : ''}
  ${i.source !== null && i.eventId !== null ? html` <a href="${eventHref(i.source, i.eventId)}">${i.source} / ${i.eventId}</a>` : ''}
  ${i.error !== null ? html` <span class="error-text">${i.error}</span>` : ''}</li>`
}

export function secretPageRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Params: { vault: string; name: string } }>('/secrets/:vault/:name', async (request, reply) => {
    const { vault, name } = request.params
    if (!NAME_PATTERN.test(vault) || !NAME_PATTERN.test(name)) return reply.callNotFound()
    const h = await secretHistory(ctx.store, declaredOf(ctx), vault, name, ctx.clock())
    if (h === null) return reply.callNotFound()
    const { entry: e, name: n } = h
    const admin = request.uiSession?.role === 'admin'
    return sendPage(request, reply, {
      title: `Secret ${vault} / ${name}`,
      section: 'secrets',
      body: (csrf) => html`
<dl class="facts">
  <dt>State</dt><dd id="secret-state">${stateBadge(e.state)}</dd>
  <dt>Source</dt><dd>${e.source ?? '–'}${h.declared ? html` <small>(reconciled: ${h.declared.path})</small>` : ''}</dd>
  <dt>Source version</dt><dd id="source-version">${e.sourceVersion ?? '–'}</dd>
  <dt>Written to RWX</dt><dd id="written">${versionAt(e.written)}</dd>
  <dt>Read back</dt><dd>${versionAt(e.readBack, 'missing')}${e.readBack ? html` <small>(${e.readBack.outcome})</small>` : ''}</dd>
  <dt>Last reconcile</dt><dd>${e.lastReconcile === null ? '–' : html`${e.lastReconcile.outcome ?? '–'} ${time(e.lastReconcile.at)}`}</dd>
  ${e.pendingSince !== null ? html`<dt>Waiting since</dt><dd>${time(e.pendingSince)}</dd>` : ''}
  ${e.lastError !== null ? html`<dt>Last error</dt><dd class="error-text">${e.lastError}</dd>` : ''}
  ${n !== null ? html`<dt>Queued values</dt><dd>${n.queued}${n.inFlight ? ' (one in flight)' : ''}</dd>` : ''}
  ${n?.fencedUntil != null ? html`<dt>Fenced until</dt><dd>${time(n.fencedUntil)}</dd>` : ''}
  ${n?.unconfirmed ? html`<dt>Unconfirmed since</dt><dd>${time(n.unconfirmedSince)}</dd>` : ''}
</dl>
${
  admin && h.declared !== undefined
    ? html`<div class="actions"><form method="post" action="/ui/actions/resync" class="inline">${csrfField(csrf)}
  <input type="hidden" name="target" value="${vault}/${name}"><button type="submit">Resync…</button></form></div>`
    : ''
}
<section class="card" aria-labelledby="timeline-title">
  <h2 id="timeline-title">History</h2>
  <p class="muted">Newest first, from the source's newest ${HISTORY_SCAN} events and the last reconcile. Values are never shown.</p>
  ${
    h.timeline.length === 0
      ? html`<p>Nothing recorded yet.</p>`
      : html`<ol id="timeline" class="timeline">${h.timeline.map(line)}</ol>`
  }
</section>`,
    })
  })
}
