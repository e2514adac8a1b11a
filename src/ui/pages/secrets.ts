// The Secrets page: every known vault/name with its state, filtered by state, vault and source.
import type { FastifyInstance } from 'fastify'
import { type ConsoleContext, sendPage } from '../context.js'
import { html, time } from '../html.js'
import { SECRET_STATES, type SecretState } from '../inventory.js'
import { eventHref } from './events.js'

interface SecretQuery {
  state?: string
  vault?: string
  source?: string
}

const text = (v: string | undefined) =>
  v === undefined || v.trim() === '' ? undefined : v.trim().slice(0, 200)

export function secretRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: SecretQuery }>('/secrets', async (request, reply) => {
    const q = request.query
    const state = SECRET_STATES.includes(q.state as SecretState) ? (q.state as SecretState) : undefined
    const filter = { state, vault: text(q.vault), source: text(q.source) }
    const rows = await ctx.inventory.list(filter)
    return sendPage(request, reply, {
      title: 'Secrets',
      section: 'secrets',
      body: () => html`
<form method="get" action="/ui/secrets" class="filters" role="search" aria-label="Filter secrets">
  <label for="f-state">State</label>
  <select id="f-state" name="state">
    <option value="">any</option>
    ${SECRET_STATES.map((s) => html`<option value="${s}"${s === state ? html` selected` : ''}>${s}</option>`)}
  </select>
  <label for="f-vault">Vault</label><input id="f-vault" name="vault" value="${filter.vault ?? ''}">
  <label for="f-source">Source</label>
  <select id="f-source" name="source">
    <option value="">any</option>
    ${ctx.sources.map((s) => html`<option value="${s.id}"${s.id === filter.source ? html` selected` : ''}>${s.id}</option>`)}
  </select>
  <button type="submit">Filter</button>
</form>
<p class="muted">${rows.length} ${rows.length === 1 ? 'name' : 'names'}, from the latest events in the store. Values are never shown.</p>
${
  rows.length === 0
    ? html`<p>No secret matches.</p>`
    : html`<div class="scroll"><table id="secrets">
  <thead><tr><th scope="col">vault</th><th scope="col">name</th><th scope="col">state</th><th scope="col">RWX version</th>
    <th scope="col">read back</th><th scope="col">source</th><th scope="col">last change</th><th scope="col">event</th><th scope="col">last error</th></tr></thead>
  <tbody>${rows.map(
    (r) => html`<tr>
    <td>${r.vault}</td><th scope="row">${r.name}</th>
    <td><span class="badge badge-${r.state}">${r.state}</span></td>
    <td>${r.written ?? '–'}</td><td>${r.state === 'drift' ? (r.readBack ?? 'missing') : '–'}</td>
    <td>${r.source}</td><td>${time(r.changedAt)}</td>
    <td><a href="${eventHref(r.source, r.eventId)}">${r.eventId}</a></td>
    <td class="error-text">${r.lastError ?? ''}</td></tr>`,
  )}</tbody></table></div>`
}`,
    })
  })
}
