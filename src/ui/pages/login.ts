// The login form: the admin token (or the read-only one) in, a signed session cookie out; and logout.
import type { FastifyInstance } from 'fastify'
import { type ConsoleContext, sendPage } from '../context.js'
import { html } from '../html.js'
import { csrfField } from '../layout.js'
import { COOKIE_OPTIONS, encodeSession, newSession, roleOf, SESSION_COOKIE } from '../session.js'

const loginForm = (csrf: string, note: string | null, failed: boolean) => html`
  ${note ? html`<p class="note" role="status">${note}</p>` : ''}
  ${failed ? html`<p class="error" role="alert" id="login-error">That token is not accepted.</p>` : ''}
  <form method="post" action="/ui/login" class="login">
    ${csrfField(csrf)}
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required
      ${failed ? html`aria-invalid="true" aria-describedby="login-error"` : ''}>
    <button type="submit">Log in</button>
  </form>
  <p class="muted">The relay's <code>admin.token</code> (or <code>admin.readOnlyToken</code> to look without acting).</p>`

export function loginRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const ttlMs = ctx.sessionMinutes * 60_000

  app.get<{ Querystring: { expired?: string; out?: string } }>(
    '/login',
    { config: { ui: 'public' } },
    async (request, reply) => {
      const note =
        request.query.expired !== undefined
          ? 'Your session has ended. Log in again.'
          : request.query.out !== undefined
            ? 'Logged out.'
            : null
      if (request.query.expired !== undefined)
        reply.clearCookie(SESSION_COOKIE, { path: COOKIE_OPTIONS.path })
      return sendPage(request, reply, {
        title: 'Log in',
        section: 'none',
        body: (c) => loginForm(c, note, false),
      })
    },
  )

  app.post<{ Body: { token?: unknown } }>('/login', { config: { ui: 'public' } }, async (request, reply) => {
    const given = typeof request.body?.token === 'string' ? request.body.token : ''
    const role = roleOf(given, ctx.adminToken, ctx.readOnlyToken)
    if (role === null) {
      request.log.warn({ from: request.ip }, 'console login refused')
      return sendPage(request, reply, {
        title: 'Log in',
        section: 'none',
        status: 401,
        body: (c) => loginForm(c, null, true),
      })
    }
    const session = newSession(role, ctx.clock(), ttlMs)
    request.log.info({ session: session.id, role, from: request.ip }, 'console login')
    reply.setCookie(SESSION_COOKIE, encodeSession(session), {
      ...COOKIE_OPTIONS,
      secure: request.protocol === 'https',
      maxAge: ctx.sessionMinutes * 60,
    })
    return reply.redirect('/ui', 303)
  })

  app.post('/logout', async (_request, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: COOKIE_OPTIONS.path })
    return reply.redirect('/ui/login?out=1', 303)
  })
}
