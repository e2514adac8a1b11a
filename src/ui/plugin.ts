// The operations console at /ui: sessions from the admin token, CSRF on every form, a strict CSP and the
// usual security headers (scoped to /ui: the API's answers are untouched), then the pages.
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isRelayError } from '../errors.js'
import { assetRoutes } from './assets.js'
import { type ConsoleContext, type ConsoleOptions, sendPage } from './context.js'
import { html } from './html.js'
import { actionRoutes } from './pages/actions.js'
import { deadLetterRoutes } from './pages/dead-letters.js'
import { eventRoutes } from './pages/events.js'
import { loginRoutes } from './pages/login.js'
import { overviewRoutes } from './pages/overview.js'
import { secretPageRoutes } from './pages/secret.js'
import { secretRoutes } from './pages/secrets.js'
import { COOKIE_OPTIONS, decodeSession, SESSION_COOKIE, sessionKey } from './session.js'
import { createTrends } from './trends.js'

/** Registers the console; call with `{ prefix: '/ui' }`. */
export async function consolePlugin(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const trends = createTrends(opts.metrics, opts.clock)
  trends.start()
  app.addHook('onClose', async () => trends.stop())
  const ctx: ConsoleContext = { ...opts, trends }

  await app.register(cookie, { secret: sessionKey(opts.adminToken, opts.readOnlyToken) })
  await app.register(formbody, { bodyLimit: 16_384 })
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
  })
  await app.register(csrf, { cookieKey: '_csrf', cookieOpts: COOKIE_OPTIONS })

  app.decorateRequest('uiSession', null)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const raw = request.cookies[SESSION_COOKIE]
    if (raw === undefined) return
    const signed = request.unsignCookie(raw)
    request.uiSession =
      signed.valid && signed.value !== null ? decodeSession(signed.value, opts.clock()) : null
  })
  // Every page but the login form and the stylesheet needs a session; every form, a CSRF token.
  app.addHook('preHandler', async (request, reply) => {
    const open = request.routeOptions.config.ui === 'public'
    if (!open && request.uiSession === null) {
      const expired = request.cookies[SESSION_COOKIE] !== undefined
      return reply.redirect(`/ui/login${expired ? '?expired=1' : ''}`, 303)
    }
  })
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'POST') app.csrfProtection(request, reply, done)
    else done()
  })

  app.setErrorHandler((err: FastifyError, request, reply) => errorPage(err, request, reply))
  app.setNotFoundHandler((request, reply) =>
    sendPage(request, reply, {
      title: 'Not found',
      section: 'none',
      status: 404,
      body: () => html`<p>No console page here. <a href="/ui">Back to the overview</a>.</p>`,
    }),
  )

  assetRoutes(app)
  loginRoutes(app, ctx)
  overviewRoutes(app, ctx)
  secretRoutes(app, ctx)
  secretPageRoutes(app, ctx)
  eventRoutes(app, ctx)
  deadLetterRoutes(app, ctx)
  actionRoutes(app, ctx)
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `public`: served without a session (the login form, the stylesheet). */
    ui?: 'public'
  }
}

/** An error as a page: a CSRF failure or a read-only session is 403; 5xx details go to the log only. */
function errorPage(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500
  let message = 'Something went wrong; the relay log has the details.'
  if (isRelayError(err)) {
    status = err.status
    if (status < 500) message = err.message
  } else if (err.code === 'FST_CSRF_MISSING_SECRET' || err.code === 'FST_CSRF_INVALID_TOKEN') {
    message =
      'This form is stale or did not come from this console (CSRF check failed). Reload the page and try again.'
  } else if (status < 500) {
    message = 'Bad request.'
  }
  if (status >= 500)
    request.log.error({ code: err.code, err: { name: err.name, message: err.message } }, 'console error')
  return sendPage(request, reply, {
    title: status === 403 ? 'Not allowed' : 'Error',
    section: 'none',
    status,
    body: () =>
      html`<p class="error" role="alert">${message}</p><p><a href="/ui">Back to the overview</a></p>`,
  })
}
