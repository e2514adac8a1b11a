// Released migrations are frozen: each one's SQL keeps the sha256 it was released with, on both backends.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Migration } from '../../src/queue/migration.js'
import { MIGRATIONS as POSTGRES } from '../../src/queue/postgres/migrations/index.js'
import { MIGRATIONS as SQLITE } from '../../src/queue/sqlite/migrations/index.js'

// sha256 of each released version's SQL text, taken from the code that shipped it (before the split into
// one file a version). Databases in the field have run exactly this text: a change here is a bug, never
// an update. A new version adds its line once it is released.
const RELEASED: Record<string, readonly string[]> = {
  postgres: [
    'd110bd5acf17fe3e431c28371f710bcba56b07787866285ca0cee59a85b8b448',
    '71f15bb6176af03d9e45af273b4b2af78dc5994a57dc0260355c6dfbbc2f6e55',
    'a094e73a57ec7f2f62e45596a0f60aa1e5f56e5e93618bcb52310975772c92f1',
    'ba4075d63a787e0ae651a7796186de2ec7d0c0489175d17488b326389c3ab258',
    '307f7a25428cd1c45fb3998dd1affa525a2a70f4a0d0db06d292c2971a26c99f',
    'abcfa359ca1fb95aa368e872d907ca26b147227e51b358ac92f553bc7fafb56f',
  ],
  sqlite: [
    'a42a06f485446a59c571dcb79b5e8562d9551b1b42ccf538aa2c45df8def739e',
    'a8bb3f1b3c1a673245571b3cfc3e198ee24204747b97e2d70287dee65ea68a36',
    'ed799ee92d6dadd15c3f93ceeb5952f307dda0383b5f639f42bd953ee997a9de',
  ],
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

describe.each([
  ['postgres', POSTGRES],
  ['sqlite', SQLITE],
] as [string, readonly Migration[]][])('%s migrations', (backend, list) => {
  const pinned = RELEASED[backend] ?? []

  it('keeps the SQL of every released version byte for byte', () => {
    const released = list.filter((m) => m.released)
    expect(released.map((m) => sha256(m.sql))).toEqual(pinned)
  })

  it('numbers the versions 1..n in list order, released ones first', () => {
    expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1))
    const firstUnreleased = list.findIndex((m) => !m.released)
    if (firstUnreleased >= 0) expect(list.slice(firstUnreleased).every((m) => !m.released)).toBe(true)
  })
})
