// Azure Key Vault secret ids taken apart, and the vault pinned.
import { describe, expect, it } from 'vitest'
import { parseSecretId, renderAzureRef, vaultOrigin } from '../../src/mapping/azure-ref.js'

describe('azure refs', () => {
  it('reads name and version from a secret id, trimming stray spaces', () => {
    expect(parseSecretId('https://kv.vault.azure.net/secrets/db-pw/ ee059b2b')?.version).toBe('ee059b2b')
    expect(parseSecretId(' https://kv.vault.azure.net/secrets/db-pw/ee059b2b ')).toEqual({
      origin: 'https://kv.vault.azure.net',
      name: 'db-pw',
      version: 'ee059b2b',
    })
    expect(parseSecretId('https://kv.vault.azure.net/keys/k/1')).toBeUndefined()
    expect(parseSecretId('http://kv.vault.azure.net/secrets/a/1')).toBeUndefined()
  })

  it('takes only an https vault origin', () => {
    expect(vaultOrigin('https://KV.vault.azure.net/')).toBe('https://kv.vault.azure.net')
    expect(vaultOrigin('https://kv.vault.azure.net/secrets')).toBeUndefined()
    expect(vaultOrigin('http://kv.vault.azure.net')).toBeUndefined()
  })

  it('refuses an id of another vault (422)', () => {
    const render = renderAzureRef({ vaultUrl: () => 'https://kv.vault.azure.net', id: (p) => String(p) }, 'v')
    expect(render('https://kv.vault.azure.net/secrets/a/b1')).toEqual({
      store: 'azure',
      vaultUrl: 'https://kv.vault.azure.net',
      name: 'a',
      version: 'b1',
    })
    expect(() => render('https://evil.vault.azure.net/secrets/a/b1')).toThrow(
      expect.objectContaining({ code: 'ERR_UNMAPPABLE' }),
    )
  })
})
