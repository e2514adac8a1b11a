// The relay's public encryption key, from its JWKS: fetched once, kept a while, fetched again when refused.
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import type { Dispatcher } from 'undici'
import { undiciGet } from '../http/get.js'

/** Key-management algorithms the relay accepts by default (src/config/schema.ts). */
const ALGORITHMS = ['ECDH-ES+A256KW', 'RSA-OAEP-256']
const MAX_BYTES = 64 * 1024

export interface RelayKeysOptions {
  jwksUrl: string
  /** Encrypt to this key; default the first usable one. */
  kid?: string | undefined
  timeoutMs: number
  /** How long a fetched key set is used before it is fetched again. */
  maxAgeMs?: number
  dispatcher?: Dispatcher
}

/** Encrypts event bodies to the relay's current key. */
export interface RelayKeys {
  /** `plaintext` as a compact JWE (A256GCM) to the relay's key; throws when the key set cannot be had. */
  encrypt(plaintext: string): Promise<string>
  /** Forgets the key set: the relay refused a body, perhaps because the key was rotated out. */
  invalidate(): void
  /** Resolves once a key set has been fetched (now or before); throws when it cannot be had. */
  ready(): Promise<void>
}

interface Chosen {
  key: Awaited<ReturnType<typeof importJWK>>
  kid: string | undefined
  alg: string
}

/** Picks the configured kid, else the first key meant for encryption with an accepted algorithm. */
function choose(keys: JWK[], kid: string | undefined): JWK {
  const usable = keys.filter(
    (k) => (k.use === undefined || k.use === 'enc') && ALGORITHMS.includes(k.alg ?? '') && k.d === undefined,
  )
  const found = kid === undefined ? usable[0] : usable.find((k) => k.kid === kid)
  if (found === undefined) throw new Error(kid === undefined ? 'no encryption key' : `no key ${kid}`)
  return found
}

export function createRelayKeys(options: RelayKeysOptions): RelayKeys {
  const get = undiciGet(options.dispatcher)
  const maxAgeMs = options.maxAgeMs ?? 300_000
  let cached: { at: number; chosen: Promise<Chosen> } | undefined
  let fetched = false

  async function fetchKey(): Promise<Chosen> {
    const res = await get(options.jwksUrl, { timeoutMs: options.timeoutMs, maxBytes: MAX_BYTES })
    if (res.status !== 200) throw new Error(`relay JWKS answered ${res.status}`)
    const { keys } = JSON.parse(res.body.toString('utf8')) as { keys?: unknown }
    if (!Array.isArray(keys)) throw new Error('relay JWKS has no keys')
    const jwk = choose(keys as JWK[], options.kid)
    const alg = jwk.alg!
    const key = await importJWK(jwk, alg)
    fetched = true
    return { key, kid: jwk.kid, alg }
  }

  function current(): Promise<Chosen> {
    if (cached === undefined || Date.now() - cached.at > maxAgeMs) {
      const entry = { at: Date.now(), chosen: fetchKey() }
      // A failed fetch is not kept: the next send asks again.
      entry.chosen.catch(() => {
        if (cached === entry) cached = undefined
      })
      cached = entry
    }
    return cached.chosen
  }

  return {
    async encrypt(plaintext) {
      const { key, kid, alg } = await current()
      return new CompactEncrypt(new TextEncoder().encode(plaintext))
        .setProtectedHeader({ alg, enc: 'A256GCM', cty: 'application/json', ...(kid ? { kid } : {}) })
        .encrypt(key)
    },
    invalidate() {
      cached = undefined
    },
    async ready() {
      if (!fetched) await current()
    },
  }
}
