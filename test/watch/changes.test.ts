import { describe, expect, it } from 'vitest'
import { createChangeTracker, type SecretObject } from '../../src/watch/changes.js'
import { watchConfigSchema } from '../../src/watch/config.js'

const spec = watchConfigSchema.parse({
  relay: { url: 'http://relay', tokenFile: '/t' },
  watches: [{ source: 's', namespaces: ['app'], keys: ['username', 'password'], namePattern: '-app$' }],
}).watches[0]!

const b64 = (s: string) => Buffer.from(s).toString('base64')
function secret(rv: string, data: Record<string, string>, name = 'db-app'): SecretObject {
  return {
    metadata: { name, namespace: 'app', uid: 'u-1', resourceVersion: rv, labels: { l: 'v' } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  }
}

describe('change tracker', () => {
  it('turns a Secret into an event with the watched keys decoded, id uid:resourceVersion, time when seen', () => {
    const t = createChangeTracker(spec, () => Date.parse('2030-01-01T00:00:00Z'))
    expect(t.seen(secret('7', { username: 'app', password: 'pw', other: 'x' }))).toEqual({
      type: 'secret.changed',
      id: 'u-1:7',
      time: '2030-01-01T00:00:00.000Z',
      namespace: 'app',
      name: 'db-app',
      uid: 'u-1',
      resourceVersion: '7',
      labels: { l: 'v' },
      data: { username: 'app', password: 'pw' },
    })
  })

  it('sends nothing again until a watched value changes (resync, annotations, unwatched keys)', () => {
    const t = createChangeTracker(spec)
    expect(t.seen(secret('1', { password: 'a' }))).toBeDefined()
    expect(t.seen(secret('2', { password: 'a' }))).toBeUndefined()
    expect(t.seen(secret('3', { password: 'a', other: 'changed' }))).toBeUndefined()
    expect(t.seen(secret('4', { password: 'b' }))?.data).toEqual({ password: 'b' })
    // Back to an earlier value is a change too.
    expect(t.seen(secret('5', { password: 'a' }))?.id).toBe('u-1:5')
    // A key appearing is a change.
    expect(t.seen(secret('6', { password: 'a', username: 'u' }))?.data).toEqual({
      password: 'a',
      username: 'u',
    })
  })

  it('skips Secrets without a watched key or whose name does not match, and forgets deleted ones', () => {
    const t = createChangeTracker(spec)
    expect(t.seen(secret('1', { other: 'x' }))).toBeUndefined()
    expect(t.seen(secret('1', { password: 'a' }, 'db-superuser'))).toBeUndefined()
    expect(t.seen(secret('2', { password: 'a' }))).toBeDefined()
    t.forget(secret('3', {}))
    expect(t.seen(secret('4', { password: 'a' }))).toBeDefined()
  })

  it('event times rise strictly, even within one millisecond', () => {
    const t = createChangeTracker(spec, () => 1_000)
    const a = t.seen(secret('1', { password: 'a' }))!
    const b = t.seen(secret('2', { password: 'b' }))!
    expect(Date.parse(b.time)).toBeGreaterThan(Date.parse(a.time))
  })
})

describe('periodic resync', () => {
  it('sends again only a Secret whose watched values the relay has not acknowledged', () => {
    const t = createChangeTracker(spec)
    const first = t.seen(secret('1', { password: 'a' }))!
    // not acknowledged yet (refused, or lost): the resync sends it again, with the same event id
    expect(t.resync(secret('1', { password: 'a' }))?.id).toBe(first.id)
    t.acknowledged('u-1', first.id)
    expect(t.resync(secret('1', { password: 'a' }))).toBeUndefined()
    // a change the watch saw but the relay has not taken yet
    const second = t.seen(secret('2', { password: 'b' }))!
    expect(t.resync(secret('2', { password: 'b' }))?.id).toBe(second.id)
    // an acknowledgement of an older change does not count for the newer one
    t.acknowledged('u-1', first.id)
    expect(t.resync(secret('2', { password: 'b' }))).toBeDefined()
    t.acknowledged('u-1', second.id)
    expect(t.resync(secret('2', { password: 'b' }))).toBeUndefined()
    // a deleted Secret is forgotten: seen again, it is sent
    t.forget(secret('2', { password: 'b' }))
    expect(t.resync(secret('3', { password: 'b' }))).toBeDefined()
  })
})
