// End to end through both real binaries: operator Secrets change in a fake Kubernetes API, `vault-relay
// watch` (the real client-node informer) sends encrypted events with a service-account token, the relay
// verifies and decrypts them and RWX gets the values under the shipped examples' names.
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type KubeRelay, startKubeRelay } from '../support/kube-relay.js'
import { until } from '../support/relay-process.js'
import { generateEncryptionKey } from '../support/signers.js'

let k: KubeRelay
beforeAll(async () => {
  k = await startKubeRelay()
})
afterAll(async () => {
  await k?.close()
})

const CNPG = {
  ns: 'app',
  name: 'pg-main-app',
  labels: { 'cnpg.io/cluster': 'pg-main', 'cnpg.io/reload': 'true' },
}
const ZALANDO = {
  ns: 'app',
  name: 'app-user.acid-main.credentials.postgresql.acid.zalan.do',
  labels: { application: 'spilo', 'cluster-name': 'acid-main', team: 'acid' },
}
const CRUNCHY = {
  ns: 'app',
  name: 'hippo-pguser-app',
  labels: {
    'postgres-operator.crunchydata.com/cluster': 'hippo',
    'postgres-operator.crunchydata.com/pguser': 'app',
    'postgres-operator.crunchydata.com/role': 'pguser',
  },
}

/** A new CloudNativePG password (and uri); returns the password. */
function rotateCnpg(): string {
  const password = k.remember(`cnpg-${randomUUID()}`)
  const uri = k.remember(`postgresql://app:${password}@pg-main-rw.app:5432/app`)
  k.kube.apply(
    CNPG.ns,
    CNPG.name,
    { username: 'app', password, uri, dbname: 'app', host: 'pg-main-rw' },
    CNPG.labels,
  )
  return password
}

const holds = (name: string, value: string) =>
  k.rwx.waitFor(() => k.rwx.secrets('production').get(name)?.secret === value, 15_000)
const writesOf = (value: string) => k.rwx.writes.filter((w) => w.secret === value).length
const hooksAnswered = () => (k.relayOutput().match(/"msg":"hook answered"/g) ?? []).length

/** The relay's current encryption key, from its JWKS. */
async function relayKey(): Promise<{ key: Awaited<ReturnType<typeof importJWK>>; jwk: JWK }> {
  const { keys } = (await (await fetch(`${k.relay.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] }
  return { key: await importJWK(keys[0]!, keys[0]!.alg), jwk: keys[0]! }
}

/** POSTs an event as the notifier does, with `token` and a body encrypted to `key`. */
async function post(token: string, event: unknown, key?: Parameters<CompactEncrypt['encrypt']>[0]) {
  const body = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(event)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json' })
    .encrypt(key ?? (await relayKey()).key)
  const res = await fetch(`${k.relay.url}/hooks/k8s-cnpg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/jose' },
    body,
  })
  return { status: res.status, body: (await res.json()) as { code?: string } }
}

async function eventCount(): Promise<number> {
  const res = await fetch(`${k.relay.url}/admin/events?source=k8s-cnpg&limit=500`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  })
  return ((await res.json()) as { events: unknown[] }).events.length
}

describe('Kubernetes operators end to end (real notifier, real relay, fake API server)', () => {
  it('CloudNativePG: the <cluster>-app Secret reaches RWX as APP_DB_USER, APP_DB_PASSWORD, APP_DATABASE_URL', async () => {
    const password = rotateCnpg()
    await holds('APP_DB_PASSWORD', password)
    const stored = k.rwx.secrets('production')
    expect(stored.get('APP_DB_USER')?.secret).toBe('app')
    expect(stored.get('APP_DATABASE_URL')?.secret).toContain(password)
    expect(stored.get('APP_DB_PASSWORD')?.description).toMatch(
      /^CloudNativePG app\/pg-main-app \(resourceVersion \d+\)$/,
    )
  })
})
