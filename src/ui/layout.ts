// The console's page shell: head, skip link, navigation, who is logged in and the logout form.
import { type Html, html, type Part } from './html.js'
import type { Session } from './session.js'

export type Section = 'overview' | 'secrets' | 'events' | 'dead' | 'none'

const NAV: [Section, string, string][] = [
  ['overview', '/ui', 'Overview'],
  ['secrets', '/ui/secrets', 'Secrets'],
  ['events', '/ui/events', 'Events'],
  ['dead', '/ui/dead', 'Dead letters'],
]

export interface PageOptions {
  title: string
  section: Section
  /** Null on the login page and error pages seen logged out. */
  session: Session | null
  /** The CSRF token for the page's forms (logout included). */
  csrf: string
  body: Part
}

/** A whole console page. */
export function page(o: PageOptions): Html {
  const nav = o.session
    ? html`<nav aria-label="Console">
        <ul>${NAV.map(
          ([key, href, label]) =>
            html`<li><a href="${href}"${key === o.section ? html` aria-current="page"` : ''}>${label}</a></li>`,
        )}</ul>
        <form method="post" action="/ui/logout" class="logout">
          <input type="hidden" name="_csrf" value="${o.csrf}">
          <span class="who">${o.session.role === 'admin' ? 'admin' : 'read-only'} · session ${o.session.id}</span>
          <button type="submit">Log out</button>
        </form>
      </nav>`
    : ''
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${o.title} · vault-relay</title>
<link rel="stylesheet" href="/ui/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">vault-relay</span>${nav}</header>
<main id="main">
<h1>${o.title}</h1>
${o.body}
</main>
</body>
</html>
`
}

/** A hidden CSRF field for a form. */
export const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`

/** `<option>`s for `values`, the `selected` one marked. */
export const options = (values: readonly string[], selected: string | undefined): Html[] =>
  values.map((v) => html`<option value="${v}"${v === selected ? html` selected` : ''}>${v}</option>`)

/** A search filter: its label, then a `<select>` of `any` (empty) and `values`, the `selected` one marked. */
export const filterSelect = (
  field: { id: string; name: string; label: string },
  values: readonly string[],
  selected: string | undefined,
): Html => html`<label for="${field.id}">${field.label}</label>
  <select id="${field.id}" name="${field.name}"><option value="">any</option>
    ${options(values, selected)}
  </select>`

/** The source filter of the Secrets, Events and Dead letters pages. */
export const SOURCE_FILTER = { id: 'f-source', name: 'source', label: 'Source' }
