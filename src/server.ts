// The process: the relay started from this process's environment, closed with grace on signals and fatal errors.
import type { Env } from './config/load.js'
import { type StartOptions, startRelay } from './relay.js'
import { closeOnSignalsAndErrors } from './shutdown.js'

/**
 * Serves the relay until a signal (or an uncaught error) closes it within `server.shutdownGraceSeconds`.
 * Throws StartupError or ConfigError when it cannot start.
 */
export async function serve(env: Env, cwd: string, options: StartOptions = {}): Promise<void> {
  const relay = await startRelay(env, cwd, options)
  closeOnSignalsAndErrors(relay, relay.log, relay.config.server.shutdownGraceSeconds * 1000)
}
