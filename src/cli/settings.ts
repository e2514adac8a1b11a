// Where the CLI's admin and send commands find the relay and the admin token: flags, the config, or env.

import { formatIssues } from '../config/format.js'
import { ConfigError, type Env } from '../config/load.js'
import { type Config, cliEnvSchema } from '../config/schema.js'
import { loadConfig } from '../load-config.js'

export interface ClientSettings {
  /** Base URL of the relay, without a trailing slash. */
  url: string
  /** RELAY_ADMIN_TOKEN (or `admin.token` of the config); undefined when neither is set. */
  token: string | undefined
  /** The config, when `--config` was given. */
  config?: Config
}

/** Which of a relay's listeners the command talks to: the admin API (`/admin`) or the webhooks (`/hooks`). */
export type Listener = 'admin' | 'hooks'

/**
 * The local address a relay serving `config` answers `listener` on: the admin API on its own port when
 * `server.adminPort` is set, else (and the webhooks always) on the webhook port.
 */
function localUrl(config: Config, listener: Listener): string {
  const { adminPort } = config.server
  const [bound, port] =
    listener === 'admin' && adminPort !== undefined
      ? [config.server.adminHost, adminPort]
      : [config.server.host, config.server.port]
  const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * Resolves `--url` and `--config` against the environment: `--url`, else `RELAY_URL`, else the config's
 * server address, else http://127.0.0.1:$PORT (8080). The token is `RELAY_ADMIN_TOKEN`, else the config's.
 */
export function clientSettings(
  flags: { url?: string | undefined; config?: string | undefined },
  env: Env,
  listener: Listener = 'admin',
): ClientSettings {
  const parsed = cliEnvSchema.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError('environment', formatIssues(parsed.error.issues, env))
  }
  const e = parsed.data
  const config = flags.config === undefined ? undefined : loadConfig(flags.config, env)
  const url =
    flags.url ?? e.RELAY_URL ?? (config ? localUrl(config, listener) : `http://127.0.0.1:${e.PORT ?? 8080}`)
  const token = e.RELAY_ADMIN_TOKEN || config?.admin.token || undefined
  return { url: url.replace(/\/+$/, ''), token, ...(config ? { config } : {}) }
}
