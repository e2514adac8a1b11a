import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createTokenSource } from '../../src/config/token.js'

const dir = mkdtempSync(join(tmpdir(), 'relay-token-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('RWX token source', () => {
  it('returns the configured token', () => {
    expect(createTokenSource({ token: 'abc' })()).toBe('abc')
  })

  it('says what to set when there is no token, without a value to quote', () => {
    expect(() => createTokenSource({ token: '' })()).toThrow(/RWX_ACCESS_TOKEN/)
  })

  it('re-reads a token file when it changes (mounted secrets rotate)', () => {
    const file = join(dir, 'token')
    writeFileSync(file, 'first-token\n')
    const token = createTokenSource({ tokenFile: file })
    expect(token()).toBe('first-token')
    writeFileSync(file, 'second-token-longer\n')
    expect(token()).toBe('second-token-longer')
  })

  it('refuses an empty token file', () => {
    const file = join(dir, 'empty')
    writeFileSync(file, '\n')
    expect(() => createTokenSource({ tokenFile: file })()).toThrow(/empty/)
  })
})
