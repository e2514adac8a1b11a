// The relay binary against the Vault stand-in (Kubernetes auth, role vault-relay) and a fake RWX, for the Vault e2e tests.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FakeRwx, startFakeRwx } from './fake-rwx.js'
import { type FakeVault, type FakeVaultOptions, startFakeVault } from './fake-vault.js'
import { type RelayProcess, startRelayProcess } from './relay-process.js'

/** How to start one: the config (`${RWX_API_URL}`, `${VAULT_ADDR}`, token file `./sa-token`) and more. */
export interface VaultRelayOptions {
  config: string
  /** The stand-in's options; tokens live an hour unless set. */
  vault?: FakeVaultOptions
  /** Environment beside RWX_API_URL, RWX_ACCESS_TOKEN and VAULT_ADDR. */
  env?: Record<string, string>
  /** Fills the stand-in before the relay starts. */
  seed?: (vault: FakeVault) => void
}

/** The stand-ins, the relay process in its directory, and what the tests ask of them. */
export interface VaultRelay {
  vault: FakeVault
  rwx: FakeRwx
  relay: RelayProcess
  dir: string
  /** The service-account token the relay logs in to Vault with (for leak checks). */
  jwt: string
  /** Resolves once RWX holds `value` under `name` in vault `into`. */
  arrives(name: string, value: string, into?: string): Promise<unknown>
  /** The relay's store files, as text (for leak checks). */
  storeFiles(): string[]
  close(): Promise<void>
}

/** Starts the stand-ins and the relay on `config`; the relay logs in with a fresh service-account token. */
export async function startVaultRelay(options: VaultRelayOptions): Promise<VaultRelay> {
  const jwt = `eyJhbGciOiJSUzI1NiJ9.sa-${randomUUID()}.sig`
  const [vault, rwx] = await Promise.all([
    startFakeVault({ tokenTtlSeconds: 3600, ...options.vault }),
    startFakeRwx({ token: `rwx-token-${randomUUID()}` }),
  ])
  vault.kubernetesRole('vault-relay', jwt)
  options.seed?.(vault)
  const dir = mkdtempSync(join(tmpdir(), 'relay-vault-e2e-'))
  writeFileSync(join(dir, 'sa-token'), jwt)
  const relay = await startRelayProcess(dir, options.config, {
    RWX_API_URL: rwx.url,
    RWX_ACCESS_TOKEN: rwx.token,
    VAULT_ADDR: vault.url,
    ...options.env,
  }).catch(async (err: unknown) => {
    await Promise.all([vault.close(), rwx.close()])
    rmSync(dir, { recursive: true, force: true })
    throw err
  })
  return {
    vault,
    rwx,
    relay,
    dir,
    jwt,
    arrives: (name, value, into = 'production') =>
      rwx.waitFor((w) => w.some((x) => x.vault === into && x.name === name && x.secret === value), 15_000),
    storeFiles: () =>
      readdirSync(join(dir, 'data')).map((f) => readFileSync(join(dir, 'data', f)).toString('latin1')),
    async close() {
      await relay.kill('SIGKILL')
      await Promise.all([vault.close(), rwx.close()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
