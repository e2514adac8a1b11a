// `vault-relay send --config F SOURCE payload.json`: sign a test event with the source's own scheme and post it.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import type { Env } from '../config/load.js'
import { AdminError } from './admin.js'
import { clientSettings } from './settings.js'
import { signTestEvent } from './sign.js'

/** The relay's answer as JSON when it is JSON (it always is), else as its text. */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Signs and posts `payload.json` to `/hooks/SOURCE`; prints the relay's answer (`--json`: `{status, body}`). Returns the exit code. */
export async function runSend(
  args: string[],
  env: Env,
  out: (text: string) => void,
  now = Date.now(),
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
      key: { type: 'string' },
    },
    allowPositionals: true,
  })
  const [sourceId, file] = positionals
  if (values.config === undefined || sourceId === undefined || file === undefined || positionals.length > 2)
    throw new AdminError(
      'usage: vault-relay send --config FILE SOURCE payload.json [--url URL] [--json] [--key FILE]',
      2,
    )
  const settings = clientSettings(values, env, 'hooks')
  const source = settings.config?.sources.find((s) => s.id === sourceId)
  if (source === undefined) throw new AdminError(`no source ${sourceId} in ${values.config}`, 2)
  let payload: string
  try {
    payload = readFileSync(file, 'utf8')
    JSON.parse(payload)
  } catch (err) {
    throw new AdminError(`${file}: not a readable JSON file (${(err as Error).message})`, 2)
  }
  let key: string | undefined
  if (values.key !== undefined) {
    try {
      key = readFileSync(values.key, 'utf8')
    } catch {
      throw new AdminError(`${values.key}: cannot read the key file`, 2)
    }
  }
  const signed = await signTestEvent(source, payload, now, key === undefined ? {} : { key })
  if ('cannotSign' in signed)
    throw new AdminError(
      `cannot sign for source ${sourceId} (verify.type ${source.verify?.type ?? 'none'}): ${signed.cannotSign}`,
      2,
    )
  let res: Awaited<ReturnType<typeof request>>
  try {
    const query = signed.query === undefined ? '' : `?${signed.query}`
    res = await request(`${settings.url}/hooks/${encodeURIComponent(sourceId)}${query}`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    })
  } catch (err) {
    throw new AdminError(`cannot reach the relay at ${settings.url}: ${(err as Error).message}`)
  }
  const text = await res.body.text()
  out(
    values.json
      ? JSON.stringify({ status: res.statusCode, body: parseOrText(text) }, null, 2)
      : `${res.statusCode} ${text}`,
  )
  return res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1
}
