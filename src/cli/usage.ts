// What `vault-relay --help` and each command's `--help` print.
import { VERSION } from '../version.js'

const ADMIN_FLAGS = `Admin flags: --url URL (else RELAY_URL, else --config's address, else http://127.0.0.1:$PORT),
--config FILE, --json (the relay's raw answer). The token comes from RELAY_ADMIN_TOKEN (else the
config's admin.token). Exit codes: 0 ok, 1 the relay refused or cannot be reached, 2 usage.`

/** Each command's own usage, printed by `vault-relay COMMAND --help`. */
export const COMMAND_USAGE: Record<string, string> = {
  serve: `Usage: vault-relay serve [--config FILE] [--demo]

Serves the relay. The config is --config, else RELAY_CONFIG, else ./relay.yaml. Refuses the example's
public DEMO-ONLY secrets unless --demo (which also falls back to relay.example.yaml when there is no
config, and listens on 127.0.0.1 unless HOST or server.host is set).
Exit codes: 2 bad config or usage, 1 runtime failure; runs until SIGTERM or SIGINT.`,
  check: `Usage: vault-relay check [--config FILE] [--json]

Validates a config (default RELAY_CONFIG, else ./relay.yaml) and lists its sources and routes.
--json prints {"ok", "config", "store", "rwx", "sources", "warnings"}, or {"ok": false, "config",
"problems"} for an invalid config. Exit codes: 0 valid, 2 every problem listed.`,
  watch: `Usage: vault-relay watch [--config FILE]

Watches Kubernetes Secrets and sends their changes to a relay (config default ./watch.yaml).
Exit codes: 2 bad config, 1 runtime failure; runs until SIGTERM or SIGINT.`,
  send: `Usage: vault-relay send --config FILE SOURCE payload.json [--url URL] [--json] [--key FILE]

Signs payload.json as SOURCE's provider would (its first secret) and posts it to /hooks/SOURCE; prints
the relay's answer ("STATUS BODY", or with --json {"status", "body"}). A google-pubsub source is signed
only with --key, a local issuer's private key (the relay owns no Google key); payload.json is the push
envelope, or the message ({"attributes", "data"}) to wrap in one.
Exit codes: 0 a 2xx answer, 1 any other answer or the relay cannot be reached, 2 usage or bad config.`,
  events: `Usage: vault-relay events [--source S] [--status queued|delivered|dead|superseded|discarded] [--limit N]

Lists events, newest first, with their secrets' statuses.

${ADMIN_FLAGS}`,
  show: `Usage: vault-relay show SOURCE EVENT

One event: its secrets, their rule, attempts (all requests made; the count toward delivery.maxAttempts,
which a retry starts again, when it differs), RWX version and history. Never a value.

${ADMIN_FLAGS}`,
  retry: `Usage: vault-relay retry SOURCE EVENT

Makes the event's queued secrets due now and re-queues its dead ones that can still be delivered, each
with a fresh delivery.maxAttempts.

${ADMIN_FLAGS}`,
  discard: `Usage: vault-relay discard SOURCE EVENT

Drops the event's queued and dead secrets (their values are erased, a dead value kept for a retry
too); delivered and superseded ones stay. Exits 1 when nothing was queued or dead.

${ADMIN_FLAGS}`,
  pause: `Usage: vault-relay pause [--reason TEXT]

Stops delivery on every replica (events are still taken and queued).

${ADMIN_FLAGS}`,
  resume: `Usage: vault-relay resume

Starts delivery again on every replica.

${ADMIN_FLAGS}`,
  status: `Usage: vault-relay status

Delivery (running or paused), queue counts, the RWX breaker and outside changes.

${ADMIN_FLAGS}`,
  name: `Usage: vault-relay name show VAULT NAME
       vault-relay name reset VAULT NAME --reason TEXT [--lift-fence] [--by WHO]

show: a name's never-regress watermark, waiting values and fence. reset: clears the watermark (and,
with --lift-fence, a live fence); exits 1 when nothing changed or the name is unknown.

${ADMIN_FLAGS}`,
  secrets: `Usage: vault-relay secrets [--state in-sync|pending|failing|dead|drift|unknown] [--vault V] [--source S]

The inventory: every vault/name the relay writes, its source and source reference, the newest source
version seen, the version written to RWX and when, RWX's version read back, the last reconcile and its
state. Never a value. Exits 1 when a listed secret is dead, failing or in drift.

${ADMIN_FLAGS}`,
  resync: `Usage: vault-relay resync [--source S] [--force] [VAULT/NAME...]

Reads the current version of reconciled secrets now (all of them, one source's, or those named) and
queues each one newer than the relay delivered; --force queues the current version anyway. Exits 1 when
a read failed or a named secret is not reconciled by any source.

${ADMIN_FLAGS}`,
}

/** `vault-relay --help`. */
export const USAGE = `vault-relay ${VERSION}

Usage:
  vault-relay serve [--config FILE] [--demo]   serve the relay (config: --config, else RELAY_CONFIG, else
                                    ./relay.yaml); refuses the example's public DEMO-ONLY secrets unless
                                    --demo (which also falls back to relay.example.yaml when there is no config)
  vault-relay check --config FILE [--json]   validate a config and list its sources and routes
  vault-relay watch --config FILE   watch Kubernetes Secrets and send their changes to a relay (watch.yaml)
  vault-relay send --config FILE SOURCE payload.json [--json]   sign a test event as SOURCE's provider and post it
  vault-relay events [--source S] [--status queued|delivered|dead|...] [--limit N]
  vault-relay show|retry|discard SOURCE EVENT   one event with provenance / make it due / drop it
  vault-relay pause [--reason TEXT] | resume | status   stop or restart delivery on every replica
  vault-relay name show VAULT NAME | name reset VAULT NAME --reason TEXT [--lift-fence]
                                    a name's never-regress watermark and fence / clear it (a stuck name)
  vault-relay secrets [--state S] [--vault V] [--source S]   the inventory: every secret's state
  vault-relay resync [--source S] [--force] [VAULT/NAME...]   read the source now, deliver if newer
  vault-relay COMMAND --help        one command's usage
  vault-relay --version

Admin commands take --url URL (else RELAY_URL, else --config's address, else http://127.0.0.1:$PORT),
the token from RELAY_ADMIN_TOKEN, and --json for the raw answer.

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage.`

/** True when `args` ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
  }
  return false
}
