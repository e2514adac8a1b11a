// /admin/secrets (the inventory: every vault and name the relay writes, with its state) and /admin/resync
// (read the source now, deliver if newer or always with force). Never a value.
import type { FastifyInstance } from 'fastify'
import { NAME_PATTERN } from '../config/schema.js'
import { RelayError } from '../errors.js'
import type { Store } from '../queue/store.js'
import { type ReconcileHandle, readInventory } from '../reconcile/inventory.js'
import { INVENTORY_STATES, type InventoryEntry, type InventoryState } from '../reconcile/types.js'
import { iso } from './admin-operations.js'

export interface AdminSecretsOptions {
  store: Store
  /** Reconciliation in this process; absent when no source reconciles. */
  reconcile?: ReconcileHandle | undefined
}

interface SecretsQuery {
  state?: string
  vault?: string
  source?: string
}

interface ResyncBody {
  source?: unknown
  secrets?: unknown
  force?: unknown
}

/** The most names one resync may list. */
const MAX_RESYNC_NAMES = 500

function present(e: InventoryEntry) {
  return {
    vault: e.vault,
    name: e.name,
    state: e.state,
    source: e.source,
    sourceRef: e.sourceRef,
    sourceVersion: e.sourceVersion,
    event: e.eventId,
    written: e.written === null ? null : { version: e.written.version, at: iso(e.written.at) },
    readBack:
      e.readBack === null
        ? null
        : { version: e.readBack.version, at: iso(e.readBack.at), by: e.readBack.outcome },
    lastReconcile:
      e.lastReconcile === null
        ? null
        : { at: iso(e.lastReconcile.at), outcome: e.lastReconcile.outcome, error: e.lastReconcile.error },
    pendingSince: iso(e.pendingSince),
    lastError: e.lastError,
  }
}

/** `vault/name` pairs from a resync body, checked. */
function namesOf(list: unknown): { vault: string; name: string }[] {
  if (list === undefined) return []
  if (!Array.isArray(list) || list.length > MAX_RESYNC_NAMES)
    throw new RelayError(
      'ERR_BAD_REQUEST',
      `secrets must be a list of at most ${MAX_RESYNC_NAMES} "VAULT/NAME"`,
    )
  return list.map((item) => {
    const [vault = '', name = '', ...rest] = typeof item === 'string' ? item.split('/') : []
    if (rest.length > 0 || !NAME_PATTERN.test(vault) || !NAME_PATTERN.test(name))
      throw new RelayError('ERR_BAD_REQUEST', 'each of secrets must be "VAULT/NAME"')
    return { vault, name }
  })
}

/** Registers the routes under the admin plugin (its Bearer check applies). */
export function adminSecretRoutes(app: FastifyInstance, opts: AdminSecretsOptions): void {
  app.get<{ Querystring: SecretsQuery }>('/admin/secrets', async (request) => {
    const q = request.query
    const state = q.state as InventoryState | undefined
    if (state !== undefined && !INVENTORY_STATES.includes(state))
      throw new RelayError('ERR_BAD_REQUEST', `state must be one of ${INVENTORY_STATES.join(', ')}`)
    const entries = await readInventory(opts.store, opts.reconcile?.declared ?? [], {
      state,
      vault: q.vault,
      source: q.source,
    })
    const counts = Object.fromEntries(INVENTORY_STATES.map((s) => [s, 0])) as Record<InventoryState, number>
    for (const e of entries) counts[e.state]++
    return { secrets: entries.map(present), counts }
  })

  app.post<{ Body: ResyncBody | null }>('/admin/resync', async (request) => {
    const body = request.body ?? {}
    const { source: given, force = false } = body
    if (given !== undefined && typeof given !== 'string')
      throw new RelayError('ERR_BAD_REQUEST', 'source must be a string')
    const source = given as string | undefined
    if (typeof force !== 'boolean') throw new RelayError('ERR_BAD_REQUEST', 'force must be a boolean')
    const names = namesOf(body.secrets)
    const reconcile = opts.reconcile
    if (reconcile === undefined || reconcile.sources.length === 0)
      throw new RelayError('ERR_NOT_FOUND', 'no source reconciles: add reconcile to a source')
    if (source !== undefined && !reconcile.sources.includes(source))
      throw new RelayError('ERR_NOT_FOUND', `no reconciling source ${source}`)
    const done = await reconcile.resync({ source, names, force })
    request.log.info(
      { source: source ?? null, force, asked: names.length, read: done.secrets.length, from: request.ip },
      'admin resync',
    )
    return {
      secrets: done.secrets,
      queued: done.secrets.filter((s) => s.outcome === 'queued' || s.outcome === 'repair').length,
      notReconciled: done.unknown.map((n) => `${n.vault}/${n.name}`),
    }
  })
}
