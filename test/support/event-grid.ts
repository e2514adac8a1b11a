// An Event Grid sender: Key Vault events in the Event Grid schema or as CloudEvents 1.0, both handshakes.
import { randomUUID } from 'node:crypto'

/** The data of a Key Vault secret event, with the stray spaces of Microsoft's samples. */
function keyVaultData(vaultUrl: string, name: string, version: string) {
  const vault = new URL(vaultUrl).hostname
  return {
    Id: `${vaultUrl}/secrets/${name}/${version}`,
    VaultName: vault,
    ObjectType: 'Secret',
    ObjectName: `${name} `,
    Version: ` ${version}`,
    NBF: null,
    EXP: null,
  }
}

export type KeyVaultEventType = 'SecretNewVersionCreated' | 'SecretNearExpiry' | 'SecretExpired'

/** A Key Vault event in the Event Grid schema (an element of the array Event Grid posts). */
export function eventGridEvent(
  vaultUrl: string,
  name: string,
  version: string,
  options: { type?: KeyVaultEventType; time?: string } = {},
) {
  return {
    id: randomUUID(),
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
    subject: name,
    eventType: `Microsoft.KeyVault.${options.type ?? 'SecretNewVersionCreated'}`,
    eventTime: options.time ?? new Date().toISOString(),
    data: keyVaultData(vaultUrl, name, version),
    dataVersion: '1',
    metadataVersion: '1',
  }
}

/** The same event as a CloudEvent 1.0: the Event Grid fields under their CloudEvents names. */
export function cloudEvent(
  vaultUrl: string,
  name: string,
  version: string,
  options: { type?: KeyVaultEventType; time?: string } = {},
) {
  const e = eventGridEvent(vaultUrl, name, version, options)
  return {
    id: e.id,
    source: e.topic,
    subject: e.subject,
    type: e.eventType,
    time: e.eventTime,
    specversion: '1.0',
    data: e.data,
  }
}

/** Event Grid's subscription validation event, with its code. */
export function validationEvent(code: string) {
  return [
    {
      id: randomUUID(),
      topic: '/subscriptions/00000000-0000-0000-0000-000000000000',
      subject: '',
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date().toISOString(),
      data: { validationCode: code, validationUrl: 'https://rp-eastus2.eventgrid.azure.net/validate?code=x' },
      dataVersion: '2',
      metadataVersion: '1',
    },
  ]
}

export interface Delivery {
  /** Bearer token (Entra) for `Authorization`. */
  token?: string
  /** The query string (`code=…`). */
  query?: string
  /** `aeg-event-type`: Notification unless told. */
  aegEventType?: string
  contentType?: string
}

/** POSTs `body` to `/hooks/{source}` as Event Grid does; returns status and JSON body. */
export async function deliver(
  relayUrl: string,
  source: string,
  body: unknown,
  d: Delivery = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${relayUrl}/hooks/${source}${d.query === undefined ? '' : `?${d.query}`}`, {
    method: 'POST',
    headers: {
      'content-type': d.contentType ?? 'application/json',
      'aeg-event-type': d.aegEventType ?? 'Notification',
      ...(d.token === undefined ? {} : { authorization: `Bearer ${d.token}` }),
    },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

/** The CloudEvents abuse-protection preflight: status and the answer's headers. */
export async function preflight(relayUrl: string, source: string, query?: string) {
  const res = await fetch(`${relayUrl}/hooks/${source}${query === undefined ? '' : `?${query}`}`, {
    method: 'OPTIONS',
    headers: { 'webhook-request-origin': 'eventgrid.azure.net', 'webhook-request-rate': '120' },
  })
  await res.arrayBuffer()
  return { status: res.status, headers: res.headers }
}
