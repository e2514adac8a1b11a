// The azure-event-grid verifier alone: query secrets, schemas, handshakes, batches and notices.
import { describe, expect, it } from 'vitest'
import { verifySchema } from '../../src/config/schema.js'
import { createVerifier } from '../../src/verify/registry.js'

const SECRET = 'query-secret-0123456789'
const verifier = createVerifier(
  verifySchema.parse({ type: 'azure-event-grid', querySecrets: ['old-secret-abcdef', SECRET] }),
)
const event = (id: string, eventType = 'Microsoft.KeyVault.SecretNewVersionCreated') => ({
  id,
  eventType,
  subject: 'db',
  eventTime: '2024-05-01T10:00:00.1234567Z',
  data: { Id: 'https://kv.vault.azure.net/secrets/db/abc' },
})
const post = (body: unknown, query = `code=${SECRET}`, headers: Record<string, string> = {}) =>
  verifier.verify({
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body)),
    now: Date.now(),
    query,
  })

describe('azure-event-grid verifier', () => {
  it('takes either query secret and names which, with the event id and time', async () => {
    const v = await post([event('e1')])
    expect(v).toMatchObject({
      eventId: 'e1',
      keyId: 'querySecrets[1]',
      eventTime: Date.parse('2024-05-01T10:00:00.123Z'),
    })
    expect((await post([event('e2')], 'code=old-secret-abcdef')).keyId).toBe('querySecrets[0]')
  })

  it('refuses a missing, wrong or repeated query secret with 401', async () => {
    for (const q of ['', 'code=nope', `code=${SECRET}&code=${SECRET}`])
      await expect(post([event('e')], q)).rejects.toMatchObject({ status: 401 })
  })

  it('answers the subscription validation with its code, and refuses a validation without one', async () => {
    const validation = [
      {
        ...event('v'),
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: { validationCode: 'c0de' },
      },
    ]
    const v = await post(validation, `code=${SECRET}`, { 'aeg-event-type': 'SubscriptionValidation' })
    expect(v).toMatchObject({ handled: 'subscription validation', answer: { validationResponse: 'c0de' } })
    await expect(
      post([event('x')], `code=${SECRET}`, { 'aeg-event-type': 'SubscriptionValidation' }),
    ).rejects.toMatchObject({ status: 400 })
  })

  it('marks Key Vault expiry events as notices', async () => {
    expect((await post([event('n', 'Microsoft.KeyVault.SecretNearExpiry')])).notice).toBe(
      'Microsoft.KeyVault.SecretNearExpiry',
    )
  })

  it('returns a batch as events, each with its own id; an empty array is refused', async () => {
    const v = await post([event('a'), event('b')])
    expect(v.events?.map((e) => e.eventId)).toEqual(['a', 'b'])
    await expect(post([])).rejects.toMatchObject({ status: 400 })
  })

  it('reads a structured CloudEvent, and refuses one without specversion 1.0', async () => {
    const ce = {
      id: 'c1',
      type: 'Microsoft.KeyVault.SecretNewVersionCreated',
      time: '2024-05-01T10:00:00Z',
      specversion: '1.0',
      data: {},
    }
    const headers = { 'content-type': 'application/cloudevents+json; charset=utf-8' }
    expect((await post(ce, `code=${SECRET}`, headers)).eventId).toBe('c1')
    await expect(post({ ...ce, specversion: '0.3' }, `code=${SECRET}`, headers)).rejects.toMatchObject({
      status: 400,
    })
  })

  it('answers the OPTIONS preflight with the origin, and checks the query secret', async () => {
    const headers = { 'webhook-request-origin': 'eventgrid.azure.net' }
    expect(await verifier.preflight?.({ headers, query: `code=${SECRET}` })).toEqual({
      'webhook-allowed-origin': 'eventgrid.azure.net',
      'webhook-allowed-rate': '*',
      allow: 'POST',
    })
    await expect(verifier.preflight?.({ headers, query: 'code=x' })).rejects.toMatchObject({ status: 401 })
    await expect(verifier.preflight?.({ headers: {}, query: `code=${SECRET}` })).rejects.toMatchObject({
      status: 400,
    })
  })

  it('needs entra or querySecrets', () => {
    expect(verifySchema.safeParse({ type: 'azure-event-grid' }).success).toBe(false)
  })
})
