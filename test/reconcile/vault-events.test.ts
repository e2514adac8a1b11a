// Which resyncs a Vault KV write event calls for, and that the trigger runs them one at a time and stops on close.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/load-config.js'
import { declaredSecrets } from '../../src/reconcile/declared.js'
import type { ResyncRequest } from '../../src/reconcile/reconciler.js'
import {
  declaresVaultKv,
  type KvWriteEvent,
  startVaultEventTrigger,
  targetsOf,
} from '../../src/reconcile/vault-events.js'
import { until } from '../support/until.js'

const CONFIG = `vault: { address: "http://127.0.0.1:1", auth: { method: token, tokenFile: ./t }, events: { enabled: true } }
sources:
  - id: listed
    reconcile:
      secrets:
        - { vault: ci, name: DB_PASSWORD, value: { vaultKv: { path: apps/db, key: password } } }
        - { vault: ci, name: DB_USER, value: { vaultKv: { path: apps/db, key: user } } }
        - { vault: ci, name: OTHER, value: { vaultKv: { mount: kv, path: apps/db, key: password } } }
        - { vault: ci, name: ROLE, value: { vaultDatabase: { role: app, key: password } } }
  - id: teams
    reconcile:
      vaultPrefixes:
        - { prefix: teams/, key: token, vault: team }
`

const config = parseConfig(CONFIG, {})
const reconciler = { declared: config.sources.flatMap((s) => declaredSecrets(s)) }

describe('Vault write events: targets', () => {
  it('the config turns events on; the sources declare Vault KV secrets', () => {
    expect(config.vault?.events).toEqual({ enabled: true })
    expect(parseConfig(CONFIG.replace(', events: { enabled: true }', ''), {}).vault?.events).toEqual({
      enabled: false,
    })
    expect(declaresVaultKv(reconciler, config.sources)).toBe(true)
    const dbOnly = parseConfig(
      `vault: { address: "http://127.0.0.1:1", auth: { method: token, tokenFile: ./t } }
sources:
  - id: db
    reconcile:
      secrets:
        - { vault: ci, name: ROLE, value: { vaultDatabase: { role: app, key: password } } }
`,
      {},
    )
    expect(declaresVaultKv({ declared: declaredSecrets(dbOnly.sources[0]!) }, dbOnly.sources)).toBe(false)
  })

  it('a write to a listed secret resyncs its names only, matched on mount and path', () => {
    expect(targetsOf({ mount: 'secret', path: 'apps/db', version: 2 }, reconciler, config.sources)).toEqual([
      {
        source: 'listed',
        names: [
          { vault: 'ci', name: 'DB_PASSWORD' },
          { vault: 'ci', name: 'DB_USER' },
        ],
      },
    ])
    expect(targetsOf({ mount: 'kv', path: 'apps/db', version: 2 }, reconciler, config.sources)).toEqual([
      { source: 'listed', names: [{ vault: 'ci', name: 'OTHER' }] },
    ])
  })

  it('a write under a prefix resyncs the whole source; elsewhere, nothing', () => {
    expect(
      targetsOf({ mount: 'secret', path: 'teams/new/api', version: 1 }, reconciler, config.sources),
    ).toEqual([{ source: 'teams' }])
    expect(targetsOf({ mount: 'kv', path: 'teams/new/api', version: 1 }, reconciler, config.sources)).toEqual(
      [],
    )
    expect(targetsOf({ mount: 'secret', path: 'apps/dbx', version: 1 }, reconciler, config.sources)).toEqual(
      [],
    )
  })
})

describe('Vault write events: the trigger', () => {
  it('resyncs one at a time, in order, and nothing after close; logs no value', async () => {
    let onWrite: ((w: KvWriteEvent) => void) | undefined
    let closed = false
    const asked: ResyncRequest[] = []
    let inFlight = 0
    let most = 0
    let release: () => void = () => {}
    let text = ''
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          text += String(chunk)
          done()
        },
      }),
    )
    const trigger = startVaultEventTrigger({
      subscribe: (options) => {
        onWrite = options.onWrite
        return {
          close: () => {
            closed = true
          },
        }
      },
      reconciler: {
        ...reconciler,
        async resync(request) {
          asked.push(request)
          inFlight += 1
          most = Math.max(most, inFlight)
          await new Promise<void>((r) => {
            release = r
          })
          inFlight -= 1
          return { secrets: [], unknown: [] }
        },
      },
      sources: config.sources,
      log,
    })
    onWrite?.({ mount: 'secret', path: 'apps/db', version: 2 })
    onWrite?.({ mount: 'secret', path: 'teams/a', version: 1 })
    onWrite?.({ mount: 'secret', path: 'nowhere', version: 1 })
    await new Promise((r) => setImmediate(r))
    expect(asked.map((a) => a.source)).toEqual(['listed'])
    release()
    await until(() => asked.length === 2, 'the second resync to start')
    expect(asked.map((a) => a.source)).toEqual(['listed', 'teams'])
    const closing = trigger.close()
    release()
    await closing
    expect(closed).toBe(true)
    expect(most).toBe(1)
    onWrite?.({ mount: 'secret', path: 'apps/db', version: 3 })
    await new Promise((r) => setImmediate(r))
    expect(asked).toHaveLength(2)
    expect(text).toContain('Vault event: resynced the source')
    expect(text).toContain('Vault event: no reconciled secret there')
  })
})
