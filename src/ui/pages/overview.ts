// The overview: delivery state and the pause switch, queue, RWX health, refusals, trends, sources, audit.
import type { FastifyInstance } from 'fastify'
import { deliveryState } from '../../delivery/types.js'
import { SECRET_STATUSES } from '../../queue/store.js'
import { type ConsoleContext, sendPage } from '../context.js'
import { age, type Html, html, time } from '../html.js'
import { csrfField } from '../layout.js'

const HOUR = 3_600_000

/** Bars of per-minute counts as an inline SVG (no script, no third party), with a text summary. */
function bars(label: string, values: number[]): Html {
  const max = Math.max(1, ...values)
  const total = values.reduce((a, b) => a + b, 0)
  const w = 4
  return html`<figure class="chart">
    <svg role="img" aria-label="${label}: ${total} in the last ${values.length} minutes, at most ${max} a minute"
      viewBox="0 0 ${values.length * w} 40" preserveAspectRatio="none" width="100%" height="40">
      ${values.map((v, i) => {
        const h = Math.round((v / max) * 38)
        return html`<rect x="${i * w}" y="${40 - h}" width="${w - 1}" height="${h}"></rect>`
      })}
    </svg>
    <figcaption>${label}: ${total} in the last hour</figcaption>
  </figure>`
}

function refusalTable(hour: Map<string, number>, day: Map<string, number>): Html {
  const codes = [...new Set([...day.keys(), ...hour.keys()])].sort()
  if (codes.length === 0) return html`<p class="muted">No refusals in the last day.</p>`
  return html`<table>
    <caption>Refused webhooks by code</caption>
    <thead><tr><th scope="col">code</th><th scope="col">last hour</th><th scope="col">last day</th></tr></thead>
    <tbody>${codes.map((c) => html`<tr><th scope="row"><code>${c}</code></th><td>${hour.get(c) ?? 0}</td><td>${day.get(c) ?? 0}</td></tr>`)}</tbody>
  </table>`
}

export function overviewRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get('/', async (request, reply) => {
    const now = ctx.clock()
    const [control, counts, oldest, audit, trends] = await Promise.all([
      ctx.pause.current(),
      ctx.store.counts(),
      ctx.store.oldestQueuedAt(),
      ctx.store.listAudit(20),
      ctx.trends.now(),
    ])
    const trend = trends.perMinute(60)
    const status = ctx.delivery?.status()
    const state = deliveryState(control.paused, status)
    const admin = request.uiSession?.role === 'admin'
    const pauseForm = (csrf: string) =>
      control.paused
        ? html`<form method="post" action="/ui/actions/resume" class="inline">
            ${csrfField(csrf)}<button type="submit">Resume delivery…</button></form>`
        : html`<form method="post" action="/ui/actions/pause" class="inline">
            ${csrfField(csrf)}
            <label for="reason">Reason</label>
            <input id="reason" name="reason" maxlength="200" required>
            <button type="submit">Pause delivery…</button></form>`
    return sendPage(request, reply, {
      title: 'Overview',
      section: 'overview',
      body: (csrf) => html`
<section aria-labelledby="delivery-h" class="card">
  <h2 id="delivery-h">Delivery</h2>
  <p class="state state-${state}" id="delivery-state">Delivery is <strong>${state}</strong>${
    control.paused
      ? html` since ${time(control.changedAt)}: <span id="pause-reason">${control.reason ?? 'no reason given'}</span>`
      : control.changedAt !== null
        ? html` (last resumed ${time(control.changedAt)})`
        : ''
  }.</p>
  ${admin ? pauseForm(csrf) : html`<p class="muted">Read-only session: actions are off.</p>`}
</section>
<div class="grid">
<section aria-labelledby="queue-h" class="card">
  <h2 id="queue-h">Queue</h2>
  <table><caption class="sr-only">Secrets by state</caption>
    <tbody>${SECRET_STATUSES.map(
      (s) =>
        html`<tr><th scope="row">${s}</th><td><a href="/ui/events?status=${s}">${counts[s]}</a></td></tr>`,
    )}</tbody></table>
  <p>Oldest pending: <strong id="oldest">${oldest === null ? 'none' : age(now - oldest)}</strong></p>
</section>
<section aria-labelledby="rwx-h" class="card">
  <h2 id="rwx-h">RWX</h2>
  ${
    status
      ? html`<dl>
    <dt>Token</dt><dd>${status.authFailing ? html`<strong class="bad">refused (401/403)</strong>` : 'accepted'}</dd>
    <dt>Breaker</dt><dd>${status.breaker.state}${status.breaker.failures > 0 ? ` (${status.breaker.failures} failures)` : ''}</dd>
    <dt>Last success</dt><dd>${time(status.lastSuccessAt)}</dd>
    <dt>Last error</dt><dd>${status.lastError ?? html`<span class="muted">none</span>`}</dd>
    ${status.rateLimitedUntil !== undefined ? html`<dt>Rate limited until</dt><dd>${time(status.rateLimitedUntil)}</dd>` : ''}
    ${(status.missingVaultCount ?? 0) > 0 ? html`<dt>Vaults missing in RWX</dt><dd>${(status.missingVaults ?? []).map((m) => m.vault).join(', ')}</dd>` : ''}
  </dl>`
      : html`<p class="muted">No delivery worker in this process.</p>`
  }
</section>
</div>
<section aria-labelledby="trend-h" class="card">
  <h2 id="trend-h">Last hour</h2>
  <div class="grid">${bars('Deliveries', trend.delivered)}${bars('Refusals', trend.refused)}</div>
  ${refusalTable(trends.refusalsByCode(HOUR), trends.refusalsByCode(24 * HOUR))}
</section>
<section aria-labelledby="sources-h" class="card">
  <h2 id="sources-h">Sources</h2>
  <div class="scroll"><table>
    <thead><tr><th scope="col">source</th><th scope="col">verifier</th><th scope="col">route</th><th scope="col">rules</th><th scope="col">vaults</th></tr></thead>
    <tbody>${ctx.sources.map(
      (
        s,
      ) => html`<tr><th scope="row"><a href="/ui/events?source=${s.id}">${s.id}</a></th><td>${s.verifier}</td>
        <td>${s.route === '' ? 'none' : html`<code>POST ${s.route}</code>`}</td><td>${s.rules}</td><td>${s.vaults.join(', ')}</td></tr>`,
    )}</tbody>
  </table></div>
</section>
<section aria-labelledby="audit-h" class="card">
  <h2 id="audit-h">Audit</h2>
  ${
    audit.length === 0
      ? html`<p class="muted">No action taken from the console yet.</p>`
      : html`<div class="scroll"><table id="audit">
    <thead><tr><th scope="col">when</th><th scope="col">who</th><th scope="col">what</th><th scope="col">on</th><th scope="col">detail</th></tr></thead>
    <tbody>${audit.map(
      (a) =>
        html`<tr><td>${time(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.target ?? '–'}</td><td>${a.detail ?? ''}</td></tr>`,
    )}</tbody></table></div>`
  }
</section>`,
    })
  })
}
