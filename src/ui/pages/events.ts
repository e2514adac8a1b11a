// Events: search by source, provider's event id, status and time; an event's page is its provenance.
import type { FastifyInstance } from 'fastify'
import { storeOf, type ValueStoreKind } from '../../config/schema.js'
import { type EventRecord, SECRET_STATUSES, type SecretStatus } from '../../queue/store.js'
import { iso } from '../../routes/admin-operations.js'
import { type ConsoleContext, sendPage, sourceIds } from '../context.js'
import { type Html, html, query, time } from '../html.js'
import { csrfField, filterSelect, SOURCE_FILTER } from '../layout.js'

/** Where an event's page is. */
export const eventHref = (source: string, eventId: string) =>
  `/ui/events/${encodeURIComponent(source)}/${encodeURIComponent(eventId)}`

interface EventQuery {
  source?: string
  event?: string
  status?: string
  before?: string
}

const PAGE = 50

/** The value stores, as the event page names where a value is fetched from. */
const STORE_NAMES = new Map<ValueStoreKind, string>([
  ['aws', 'AWS Secrets Manager'],
  ['azure', 'Azure Key Vault'],
  ['gcp', 'Google Secret Manager'],
  ['vault', 'Vault'],
])

const counts = (e: EventRecord) =>
  SECRET_STATUSES.filter((s) => (e.counts[s] ?? 0) > 0).map(
    (s) => html`<span class="badge badge-${s}">${e.counts[s]} ${s}</span> `,
  )

/** The events matching the search: one by id (in each source unless one is named), else a page. */
async function search(
  ctx: ConsoleContext,
  q: EventQuery,
  status: SecretStatus | undefined,
  before: number | undefined,
) {
  const source = q.source?.trim() || undefined
  const id = q.event?.trim() || undefined
  if (id !== undefined) {
    const sources = source !== undefined ? [source] : sourceIds(ctx)
    const found = await Promise.all(sources.map((s) => ctx.store.getEvent(s, id)))
    return found.filter(
      (e): e is EventRecord => e !== null && (status === undefined || (e.counts[status] ?? 0) > 0),
    )
  }
  return ctx.store.listEvents({ source, status, limit: PAGE, before })
}

function eventTable(events: EventRecord[]): Html {
  if (events.length === 0) return html`<p>No event matches.</p>`
  return html`<div class="scroll"><table id="events">
  <thead><tr><th scope="col">received</th><th scope="col">source</th><th scope="col">event</th><th scope="col">event time</th><th scope="col">secrets</th></tr></thead>
  <tbody>${events.map(
    (e) => html`<tr><td>${time(e.receivedAt)}</td><td>${e.source}</td>
      <th scope="row"><a href="${eventHref(e.source, e.eventId)}">${e.eventId}</a></th>
      <td>${time(e.eventTime)}</td><td>${counts(e)}</td></tr>`,
  )}</tbody></table></div>`
}

export function eventRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: EventQuery }>('/events', async (request, reply) => {
    const q = request.query
    const status = SECRET_STATUSES.includes(q.status as SecretStatus) ? (q.status as SecretStatus) : undefined
    const parsed = q.before ? Date.parse(q.before) : Number.NaN
    const before = Number.isNaN(parsed) ? undefined : parsed
    const events = await search(ctx, q, status, before)
    const last = events.at(-1)
    const older =
      q.event === undefined && events.length === PAGE && last
        ? query({ source: q.source, status, before: iso(last.receivedAt) ?? undefined })
        : null
    return sendPage(request, reply, {
      title: 'Events',
      section: 'events',
      body: () => html`
<form method="get" action="/ui/events" class="filters" role="search" aria-label="Search events">
  ${filterSelect(SOURCE_FILTER, sourceIds(ctx), q.source)}
  <label for="f-event">Event id</label><input id="f-event" name="event" value="${q.event ?? ''}" placeholder="evt_…, MessageId…">
  ${filterSelect({ id: 'f-status', name: 'status', label: 'Status' }, SECRET_STATUSES, status)}
  <label for="f-before">Received before</label><input id="f-before" name="before" value="${q.before ?? ''}" placeholder="2025-01-31T12:00:00Z">
  <button type="submit">Search</button>
</form>
${eventTable(events)}
${older ? html`<p><a href="/ui/events${older}">Older events</a></p>` : ''}`,
    })
  })

  app.get<{ Params: { source: string; eventId: string } }>(
    '/events/:source/:eventId',
    async (request, reply) => {
      const { source, eventId } = request.params
      const [event, p] = await Promise.all([
        ctx.store.getEvent(source, eventId),
        ctx.store.getProvenance(source, eventId),
      ])
      if (event === null) return reply.callNotFound()
      const admin = request.uiSession?.role === 'admin'
      const target = `${source}/${eventId}`
      return sendPage(request, reply, {
        title: `Event ${eventId}`,
        section: 'events',
        body: (csrf) => html`
<dl class="facts">
  <dt>Source</dt><dd>${source}</dd>
  <dt>Verified by</dt><dd>${p?.verifier ?? '–'}</dd>
  <dt>Key used</dt><dd>${p?.keyId ?? '–'}</dd>
  <dt>Event time</dt><dd>${time(event.eventTime)}</dd>
  <dt>Received</dt><dd>${time(event.receivedAt)}</dd>
</dl>
${
  admin
    ? html`<div class="actions">
  <form method="post" action="/ui/actions/retry" class="inline">${csrfField(csrf)}
    <input type="hidden" name="target" value="${target}"><button type="submit">Retry…</button></form>
  <form method="post" action="/ui/actions/discard" class="inline">${csrfField(csrf)}
    <input type="hidden" name="target" value="${target}"><button type="submit" class="danger">Discard…</button></form>
</div>`
    : ''
}
${(event.secrets ?? []).map((s) => {
  const attempts = p?.attempts[s.id] ?? []
  return html`<section class="card" aria-labelledby="s-${s.id}">
  <h2 id="s-${s.id}">${s.vault} / ${s.name} <span class="badge badge-${s.status}">${s.status}</span></h2>
  <dl class="facts">
    <dt>Rule</dt><dd>${p?.rules[s.id] ?? '–'}</dd>
    <dt>Value from</dt><dd>${s.ref ? `${STORE_NAMES.get(storeOf(s.ref)) ?? 'a value store'} (fetched at delivery)` : 'the payload (encrypted while queued)'}</dd>
    <dt>RWX version</dt><dd>${s.rwxVersion ?? '–'}</dd>
    <dt>Delivered</dt><dd>${time(s.deliveredAt)}</dd>
    ${s.status === 'queued' ? html`<dt>Next attempt</dt><dd>${time(s.nextAttemptAt)}</dd>` : ''}
    ${s.lastError ? html`<dt>Last error</dt><dd class="error-text">${s.lastError}</dd>` : ''}
  </dl>
  ${
    attempts.length === 0
      ? html`<p class="muted">No attempt yet.</p>`
      : html`<div class="scroll"><table>
    <caption>Attempts of ${s.name}</caption>
    <thead><tr><th scope="col">when</th><th scope="col">outcome</th><th scope="col">RWX status</th><th scope="col">version</th><th scope="col">error</th></tr></thead>
    <tbody>${attempts.map(
      (a) =>
        html`<tr><td>${time(a.at)}</td><td>${a.outcome}</td><td>${a.status ?? '–'}</td><td>${a.version ?? '–'}</td><td>${a.error ?? ''}</td></tr>`,
    )}</tbody></table></div>`
  }
</section>`
})}`,
      })
    },
  )
}
