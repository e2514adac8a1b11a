// Who may read the SQLite store's files: the directory it makes is 0700 and every file 0600 whatever
// the umask; an existing directory keeps its mode, and files others can read are warned about.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/load-config.js'
import { createLogger } from '../../../src/log.js'
import { openStore } from '../../../src/queue/open.js'
import type { Store } from '../../../src/queue/store.js'
import { newEvent, sealed, T0 } from '../contract/helpers.js'

const modeOf = (path: string) => statSync(path).mode & 0o777

describe('sqlite store files', () => {
  let dir = ''
  const stores: Store[] = []
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-modes-'))
  })
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Opens `sqlite:<db>` as the relay does (no encryptionKey: the key file is made beside it). */
  async function open(db: string) {
    const lines: string[] = []
    const log = createLogger('warn', { write: (line: string) => lines.push(line) })
    const config = parseConfig(`store: "sqlite:${db}"\nsources: []\n`, { RWX_ACCESS_TOKEN: 't' })
    const { store } = await openStore(config, log, dir)
    stores.push(store)
    // a commit, so the WAL and its index exist
    await store.enqueue(newEvent(T0, [sealed('v', 'A', 'a')]))
    return { store, lines }
  }

  it('makes its directories 0700 and the database, WAL, SHM and key files 0600', async () => {
    const db = join(dir, 'nested', 'data', 'relay.db')
    await open(db)
    expect(modeOf(join(dir, 'nested')).toString(8)).toBe('700')
    expect(modeOf(join(dir, 'nested', 'data')).toString(8)).toBe('700')
    for (const file of [db, `${db}-wal`, `${db}-shm`, `${db}.key`]) {
      expect([file, modeOf(file).toString(8)]).toEqual([file, '600'])
    }
  })

  it('leaves an existing directory as it is, and warns about files others can read', async () => {
    const data = join(dir, 'data')
    mkdirSync(data, { mode: 0o755 })
    chmodSync(data, 0o755)
    const db = join(data, 'relay.db')
    const first = await open(db)
    expect(modeOf(data).toString(8)).toBe('755')
    expect(first.lines.join('\n')).not.toMatch(/readable by other users/)
    await first.store.close()
    // an older relay (or a copy) left the database world-readable
    chmodSync(db, 0o644)
    const second = await open(db)
    const warning = second.lines.find((l) => l.includes('readable by other users'))
    expect(warning).toBeDefined()
    // SQLite gave the WAL and SHM it made the database's mode
    expect(JSON.parse(warning!).files).toEqual([db, `${db}-wal`, `${db}-shm`])
    // not changed behind the operator's back: a warning only
    expect(modeOf(db).toString(8)).toBe('644')
  })
})
