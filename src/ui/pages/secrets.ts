// The Secrets page: the reconciling inventory (every vault/name the relay writes, src/reconcile), with its
// versions and state, filtered by state, vault and source; a resync of a whole source for an admin.
import type { FastifyInstance } from 'fastify'
import { readInventory } from '../../reconcile/inventory.js'
import { INVENTORY_STATES, type InventoryEntry, type InventoryState } from '../../reconcile/types.js'
import { type ConsoleContext, declaredOf, reconcilingOf, sendPage, sourceIds } from '../context.js'
import { type Html, html, time } from '../html.js'
import { csrfField, filterSelect, options, SOURCE_FILTER } from '../layout.js'

interface SecretQuery {
  state?: string
  vault?: string
  source?: string
}

/** Most rows one page shows (narrow with the filters for more). */
export const SECRETS_SHOWN = 1_000

/** Where a secret's page is. */
export const secretHref = (vault: string, name: string) =>
  `/ui/secrets/${encodeURIComponent(vault)}/${encodeURIComponent(name)}`

const text = (v: string | undefined) =>
  v === undefined || v.trim() === '' ? undefined : v.trim().slice(0, 200)

/** A version and when it was seen, or a dash. */
export function versionAt(v: { version: number | null; at: number | null } | null, missing = '–'): Html {
  if (v === null) return html`<span class="muted">–</span>`
  return html`${v.version ?? missing}<br><small>${time(v.at)}</small>`
}

/** The inventory's state as a badge. */
export const stateBadge = (s: InventoryState) => html`<span class="badge badge-${s}">${s}</span>`

function row(e: InventoryEntry): Html {
  const r = e.lastReconcile
  return html`<tr>
    <td>${e.vault}</td><th scope="row"><a href="${secretHref(e.vault, e.name)}">${e.name}</a></th>
    <td>${stateBadge(e.state)}</td><td>${e.source ?? '–'}</td><td>${e.sourceVersion ?? '–'}</td>
    <td>${versionAt(e.written)}</td><td>${versionAt(e.readBack, 'missing')}</td>
    <td>${r === null ? '–' : html`${r.outcome ?? '–'}<br><small>${time(r.at)}</small>`}</td>
    <td class="error-text">${e.lastError ?? r?.error ?? ''}</td></tr>`
}

export function secretRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get<{ Querystring: SecretQuery }>('/secrets', async (request, reply) => {
    const q = request.query
    const state = INVENTORY_STATES.includes(q.state as InventoryState)
      ? (q.state as InventoryState)
      : undefined
    const filter = { state, vault: text(q.vault), source: text(q.source) }
    const all = await readInventory(ctx.store, declaredOf(ctx), filter)
    const rows = all.slice(0, SECRETS_SHOWN)
    const reconciling = reconcilingOf(ctx)
    const admin = request.uiSession?.role === 'admin'
    return sendPage(request, reply, {
      title: 'Secrets',
      section: 'secrets',
      body: (csrf) => html`
<form method="get" action="/ui/secrets" class="filters" role="search" aria-label="Filter secrets">
  ${filterSelect({ id: 'f-state', name: 'state', label: 'State' }, INVENTORY_STATES, state)}
  <label for="f-vault">Vault</label><input id="f-vault" name="vault" value="${filter.vault ?? ''}">
  ${filterSelect(SOURCE_FILTER, sourceIds(ctx), filter.source)}
  <button type="submit">Filter</button>
</form>
${
  admin && reconciling.length > 0
    ? html`<form method="post" action="/ui/actions/resync" class="filters" aria-label="Resync a source">${csrfField(csrf)}
  <label for="r-source">Reconciling source</label>
  <select id="r-source" name="source">${options(reconciling, filter.source)}</select>
  <button type="submit">Resync source…</button>
</form>`
    : ''
}
<p class="muted">${all.length} ${all.length === 1 ? 'name' : 'names'}${all.length > rows.length ? `, the first ${rows.length} shown` : ''}. Versions: the source's newest seen, RWX's written by the relay, RWX's read back. Values are never shown.</p>
${
  rows.length === 0
    ? html`<p>No secret matches.</p>`
    : html`<div class="scroll"><table id="secrets">
  <thead><tr><th scope="col">vault</th><th scope="col">name</th><th scope="col">state</th><th scope="col">source</th>
    <th scope="col">source version</th><th scope="col">written</th><th scope="col">read back</th>
    <th scope="col">last reconcile</th><th scope="col">last error</th></tr></thead>
  <tbody>${rows.map(row)}</tbody></table></div>`
}`,
    })
  })
}
