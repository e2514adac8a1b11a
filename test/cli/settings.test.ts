// Where the CLI finds the relay from a config file: the admin API on the admin port when it has one, webhooks on theirs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { clientSettings } from '../../src/cli/settings.js'

const dir = mkdtempSync(join(tmpdir(), 'cli-settings-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function configFile(server: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(
    path,
    `server: ${server}\nrwx: { url: "http://127.0.0.1:1" }\nsources:\n  - id: ci\n    verify: { type: hmac, header: x-sig, secrets: ["0123456789abcdef"] }\n    rules: [{ secrets: [{ vault: ci, name: A, value: /v }] }]\n`,
  )
  return path
}

const env = { RWX_ACCESS_TOKEN: 't' }

describe('cli settings', () => {
  it('uses the webhook port when the admin API shares it', () => {
    expect(clientSettings({ config: configFile('{ port: 8123 }') }, env).url).toBe('http://127.0.0.1:8123')
  })

  it('uses server.adminPort and adminHost when the admin API has its own listener', () => {
    const config = configFile('{ port: 8123, adminPort: 9123, adminHost: "::1" }')
    expect(clientSettings({ config }, env).url).toBe('http://[::1]:9123')
  })

  it('sends webhooks (send) to the webhook port even when the admin API has its own', () => {
    const config = configFile('{ port: 8123, adminPort: 9123, adminHost: "::1" }')
    expect(clientSettings({ config }, env, 'hooks').url).toBe('http://127.0.0.1:8123')
  })

  it('reaches an admin listener on every interface through loopback', () => {
    const config = configFile('{ port: 8123, adminPort: 9123, adminHost: "0.0.0.0" }')
    expect(clientSettings({ config }, env).url).toBe('http://127.0.0.1:9123')
  })
})
