// `vault-relay secrets` (the inventory) and `vault-relay resync`: read from the admin API, never a value.
import { NAME_PATTERN } from '../config/schema.js'
import { type At, type Json, list, withQuery } from './admin-call.js'
import { AdminError } from './admin-error.js'

/** `VAULT/NAME`, each as RWX accepts names. */
const isVaultName = (p: string) => {
  const parts = p.split('/')
  return parts.length === 2 && parts.every((x) => NAME_PATTERN.test(x))
}

/** One inventory line: vault/name, state, versions, and what is wrong. */
function line(s: Json): string {
  const w = s.written as Json | null
  const r = s.readBack as Json | null
  const rc = s.lastReconcile as Json | null
  const parts = [
    `${s.vault}/${s.name}`,
    String(s.state).toUpperCase(),
    `source ${s.source ?? '-'}${s.sourceVersion ? ` @${s.sourceVersion}` : ''}`,
    `wrote ${w ? `v${w.version ?? '?'} ${w.at}` : '-'}`,
    `read ${r ? `v${r.version ?? 'none'}` : '-'}`,
    `reconciled ${rc?.at ?? '-'}${rc?.outcome ? ` (${rc.outcome})` : ''}`,
  ]
  const extra = [
    ...(s.pendingSince ? [`    waiting since ${s.pendingSince}`] : []),
    ...(s.lastError ? [`    last error: ${s.lastError}`] : []),
    ...(rc?.error ? [`    reconcile: ${rc.error}`] : []),
  ]
  return [parts.join('  '), ...extra].join('\n')
}

/** `secrets [--state S] [--vault V] [--source S] [--json]`: exits 1 when a name is dead, failing or in drift. */
export async function runSecretsCommand(
  values: { json?: boolean; state?: string; vault?: string; source?: string },
  at: At,
  out: (text: string) => void,
): Promise<number> {
  const doc = await at('GET', withQuery('/admin/secrets', values, ['state', 'vault', 'source']))
  const secrets = list(doc.secrets)
  if (values.json) out(JSON.stringify(doc, null, 2))
  else {
    const counts = Object.entries((doc.counts ?? {}) as Record<string, number>)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(' ')
    out([...secrets.map(line), `${secrets.length} secret(s)${counts ? `: ${counts}` : ''}`].join('\n'))
  }
  return secrets.some((s) => s.state === 'dead' || s.state === 'failing' || s.state === 'drift') ? 1 : 0
}

/** `resync [--source S] [--force] [VAULT/NAME…]`: exits 1 when a read failed or a name is not reconciled. */
export async function runResyncCommand(
  positionals: string[],
  values: { json?: boolean; source?: string; force?: boolean },
  at: At,
  out: (text: string) => void,
): Promise<number> {
  for (const p of positionals)
    if (!isVaultName(p))
      throw new AdminError(
        `usage: vault-relay resync [--source S] [--force] [VAULT/NAME…] (${p} is not VAULT/NAME)`,
        2,
      )
  const doc = await at('POST', '/admin/resync', {
    ...(values.source === undefined ? {} : { source: values.source }),
    ...(positionals.length === 0 ? {} : { secrets: positionals }),
    force: values.force === true,
  })
  const secrets = list(doc.secrets)
  const unknown = Array.isArray(doc.notReconciled) ? (doc.notReconciled as string[]) : []
  if (values.json) out(JSON.stringify(doc, null, 2))
  else {
    out(
      [
        ...secrets.map(
          (s) =>
            `${s.vault}/${s.name}  ${s.outcome}${s.version ? `  version ${s.version}` : ''}${s.error ? `  (${s.error})` : ''}`,
        ),
        ...unknown.map((n) => `${n}  not reconciled by any source (its value comes from webhooks only)`),
        `${doc.queued ?? 0} queued of ${secrets.length} read`,
      ].join('\n'),
    )
  }
  return secrets.some((s) => s.outcome === 'failed' || s.outcome === 'missing') || unknown.length > 0 ? 1 : 0
}
