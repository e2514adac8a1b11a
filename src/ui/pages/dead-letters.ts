// Dead letters: dead secrets grouped by reason, with retry and discard for one event or every event of a group.
import type { FastifyInstance } from 'fastify'
import type { Store } from '../../queue/store.js'
import { type ConsoleContext, sendPage, sourceIds } from '../context.js'
import { html, time } from '../html.js'
import { csrfField, filterSelect, SOURCE_FILTER } from '../layout.js'
import { eventHref } from './events.js'

/** Dead events looked at (newest first); more are reached by the Events page's paging. */
const SCAN = 500

export interface DeadLetter {
  source: string
  eventId: string
  vault: string
  name: string
  at: number
  /** Fetched again on retry (a value store reference); a payload value was erased when it died. */
  retryable: boolean
}

/** The dead secrets of the newest dead events, grouped by their last error, largest group first. */
export async function deadLetters(
  store: Store,
  source: string | undefined,
): Promise<Map<string, DeadLetter[]>> {
  const events = await store.listEvents({ status: 'dead', limit: SCAN, source })
  const full = await Promise.all(events.map((e) => store.getEvent(e.source, e.eventId)))
  const groups = new Map<string, DeadLetter[]>()
  for (const e of full) {
    for (const s of e?.secrets ?? []) {
      if (s.status !== 'dead') continue
      const reason = s.lastError ?? 'no reason recorded'
      const list = groups.get(reason) ?? []
      list.push({
        source: e!.source,
        eventId: e!.eventId,
        vault: s.vault,
        name: s.name,
        at: s.updatedAt,
        retryable: s.ref !== null,
      })
      groups.set(reason, list)
    }
  }
  return new Map([...groups].sort((a, b) => b[1].length - a[1].length))
}

export function deadLetterRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: { source?: string } }>('/dead', async (request, reply) => {
    const source = request.query.source?.trim() || undefined
    const groups = await deadLetters(ctx.store, source)
    const admin = request.uiSession?.role === 'admin'
    let n = 0
    return sendPage(request, reply, {
      title: 'Dead letters',
      section: 'dead',
      body: (csrf) => html`
<form method="get" action="/ui/dead" class="filters" role="search" aria-label="Filter dead letters">
  ${filterSelect(SOURCE_FILTER, sourceIds(ctx), source)}
  <button type="submit">Filter</button>
</form>
<p class="muted">A value from the payload is erased when its secret dies: retrying fetches again only values
that come from a value store (AWS, Azure, Google Cloud, Vault). A payload value comes back when its provider sends the event again.
Discarding one drops its event's queued and dead secrets for good (delivered ones stay).</p>
${groups.size === 0 ? html`<p>No dead letter.</p>` : ''}
${[...groups].map(([reason, letters]) => {
  n++
  return html`<section class="card" aria-labelledby="g-${n}">
  <h2 id="g-${n}">${letters.length} dead: <span class="error-text">${reason}</span></h2>
  ${
    admin
      ? html`<div class="actions"><form method="post" action="/ui/actions/retry-dead" class="inline">${csrfField(csrf)}
    <input type="hidden" name="reason" value="${reason}"><input type="hidden" name="source" value="${source ?? ''}">
    <button type="submit">Retry all ${letters.length}…</button></form>
  <form method="post" action="/ui/actions/discard-dead" class="inline">${csrfField(csrf)}
    <input type="hidden" name="reason" value="${reason}"><input type="hidden" name="source" value="${source ?? ''}">
    <button type="submit" class="danger">Discard all ${letters.length}…</button></form></div>`
      : ''
  }
  <div class="scroll"><table>
    <thead><tr><th scope="col">died</th><th scope="col">vault / name</th><th scope="col">event</th><th scope="col">retry</th>${admin ? html`<th scope="col">discard</th>` : ''}</tr></thead>
    <tbody>${letters.map(
      (d) => html`<tr><td>${time(d.at)}</td><td>${d.vault} / ${d.name}</td>
      <td><a href="${eventHref(d.source, d.eventId)}">${d.source} / ${d.eventId}</a></td>
      <td>${
        admin && d.retryable
          ? html`<form method="post" action="/ui/actions/retry" class="inline">${csrfField(csrf)}
        <input type="hidden" name="target" value="${d.source}/${d.eventId}"><button type="submit" aria-label="Retry ${d.source} / ${d.eventId}">Retry…</button></form>`
          : d.retryable
            ? 'possible'
            : html`<span class="muted">value erased</span>`
      }</td>${
        admin
          ? html`<td><form method="post" action="/ui/actions/discard" class="inline">${csrfField(csrf)}
        <input type="hidden" name="target" value="${d.source}/${d.eventId}"><button type="submit" class="danger" aria-label="Discard ${d.source} / ${d.eventId}">Discard…</button></form></td>`
          : ''
      }</tr>`,
    )}</tbody></table></div>
</section>`
})}`,
    })
  })
}
