// `npm run demo` works: the real relay and the RWX stand-in, signed events in, masked values out.
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('npm run demo', () => {
  it('shows each answer and what RWX received, with values masked', () => {
    const res = spawnSync(process.execPath, [resolve('dist-tools/tools/demo.js')], {
      encoding: 'utf8',
      timeout: 25_000,
      env: { PATH: process.env.PATH ?? '' },
    })
    expect(res.status).toBe(0)
    expect(res.stdout).toMatch(/^202 +Stripe rotation.completed/m)
    expect(res.stdout).toMatch(/^200 +Stripe replay of the same event .*"duplicate":true/m)
    expect(res.stdout).toMatch(/^401 +Stripe with a forged signature/m)
    expect(res.stdout).toMatch(/vault payments +API_KEY +v1 +sk_\*+/)
    expect(res.stdout).toMatch(/vault ci +postgres-password +v1 +pg-\*+/)
    // Masked: no value appears whole.
    for (const v of ['sk_demo_rotated_value_1', 'ssh-demo-key', 'pg-password-newest'])
      expect(res.stdout).not.toContain(v)
    expect(res.stdout).not.toContain('pg-password-old')
  })
})
