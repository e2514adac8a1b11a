import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadWatchConfig } from '../../src/watch/config.js'

const dir = mkdtempSync(join(tmpdir(), 'relay-watch-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function load(text: string, env: Record<string, string> = {}) {
  const file = join(dir, `${Math.random()}.yaml`)
  writeFileSync(file, text)
  return loadWatchConfig(file, env)
}

describe('watch.yaml', () => {
  it('the shipped example loads with its defaults; KUBECONFIG and LOG_LEVEL apply', () => {
    const config = loadWatchConfig('examples/kubernetes/watch.yaml', { KUBECONFIG: '/k', LOG_LEVEL: 'debug' })
    expect(config.relay).toMatchObject({
      url: 'http://vault-relay.vault-relay.svc',
      tokenFile: '/var/run/secrets/vault-relay/token',
    })
    expect(config).toMatchObject({
      kubeconfig: '/k',
      logLevel: 'debug',
      retry: { baseMs: 500, maxMs: 60_000 },
    })
    expect(config.watches.map((w) => w.source)).toEqual(['k8s-cnpg', 'k8s-zalando', 'k8s-crunchy'])
  })

  it('lists every bad path', () => {
    expect(() =>
      load(`
relay: { url: not-a-url }
watches:
  - { source: "bad id", namespaces: [], keys: [password], namePattern: "(" }
`),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          'relay.url: Invalid URL',
          'relay.tokenFile: required',
          'watches[0].source: must match ^[A-Za-z0-9_.-]+$',
          'watches[0].namespaces: required: at least one',
          'watches[0].namePattern: must be a valid regular expression',
        ]),
      }),
    )
  })
})
