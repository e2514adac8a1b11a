// Closing with grace: SIGTERM, SIGINT, an uncaught exception or an unhandled rejection drain the relay, then exit.
import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import { errorFields } from './log.js'

/** What can be closed: stops taking requests, finishes in-flight deliveries, releases leases, closes the store. */
export interface Closable {
  close(): Promise<void>
}

/**
 * Installs the handlers once. A signal drains and exits 0; an uncaught exception or unhandled rejection
 * is logged (type and message, never a stack: frames can hold request data), drained, and exits 1; a
 * drain longer than `graceMs`, or a second signal, exits 1 (leased work is retried after a restart).
 */
export function closeOnSignalsAndErrors(relay: Closable, log: Logger, graceMs: number): void {
  closeWithGrace(
    {
      delay: graceMs,
      logger: false,
      onTimeout: () =>
        log.error(
          'shutdown took longer than the grace period: exiting; leased work is retried after restart',
        ),
      onSecondSignal: (signal) => log.error({ signal }, 'second signal: exiting now'),
      onSecondError: (err) =>
        log.error({ err: errorFields(err) }, 'second error while shutting down: exiting now'),
    },
    async ({ signal, err }) => {
      if (err !== undefined) log.error({ err: errorFields(err) }, 'uncaught error: shutting down')
      else log.info({ signal }, 'signal received: shutting down')
      try {
        await relay.close()
      } catch (closeErr) {
        log.error({ err: errorFields(closeErr) }, 'shutdown failed')
        throw closeErr
      }
    },
  )
}
