// Whitespace in template pointers: padding around a pointer, significant inside it (RFC 6901), never ambiguous.
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/load.js'
import { parseConfig } from '../../src/load-config.js'
import { compileFallback, compileTemplate, TemplateSyntaxError } from '../../src/mapping/template.js'

const payload = {
  '': 'empty-key',
  ' ': 'space-key',
  '  ': 'two-spaces',
  ' a': 'lead-a',
  'first name': 'Ada',
  a: { '': 'a-empty', ' ': 'a-space' },
}

describe('template pointers and whitespace', () => {
  it('refuses {{ /  }}: the key " " by RFC 6901, the key "" by padding', () => {
    expect(() => compileTemplate('{{ /  }}')).toThrow(TemplateSyntaxError)
    expect(() => compileTemplate('{{ /  }}')).toThrow(/ambiguous pointer "\/" followed by a space/)
  })

  it('refuses a pointer ending in "/" before a filter or a fallback with a space between', () => {
    expect(() => compileTemplate('{{ /a/ | upper }}')).toThrow(/ambiguous pointer "\/a\/"/)
    expect(() => compileTemplate('{{ /a/ ?? /b }}')).toThrow(/ambiguous pointer "\/a\/"/)
  })

  it('reads the key " " from a quoted pointer, exactly', () => {
    expect(compileTemplate('{{ "/ " }}')(payload)).toBe('space-key')
    expect(compileTemplate('{{ "/  " | upper }}')(payload)).toBe('TWO-SPACES')
    expect(compileTemplate('{{ "/a/ " }}')(payload)).toBe('a-space')
  })

  it('reads the key "" from a pointer written without the space', () => {
    expect(compileTemplate('{{/}}')(payload)).toBe('empty-key')
    expect(compileTemplate('{{ /a/}}')(payload)).toBe('a-empty')
    expect(compileTemplate('{{ "/" }}')(payload)).toBe('empty-key')
  })

  it('keeps spaces inside a pointer', () => {
    expect(compileTemplate('{{ /first name }}')(payload)).toBe('Ada')
    expect(compileTemplate('{{ / a }}')(payload)).toBe('lead-a')
  })

  it('takes quoted pointers in a fallback', () => {
    expect(compileTemplate('{{ /missing ?? "/ " }}')(payload)).toBe('space-key')
  })

  it('refuses a quoted pointer that is not one JSON string', () => {
    expect(() => compileTemplate('{{ "/a }}')).toThrow(/invalid quoted pointer/)
  })

  it('leaves a `when` key exact: "/ " is the key " "', () => {
    expect(compileFallback('/ ')(payload)).toBe('space-key')
    expect(compileFallback('/')(payload)).toBe('empty-key')
  })

  it('makes an ambiguous template a config error naming its path', () => {
    const text = `sources:
  - id: ci
    verify: { type: hmac, header: x-sig, secrets: [s] }
    rules:
      - secrets: [{ vault: v, name: "{{ /  }}", value: /value }]
`
    expect(() => parseConfig(text, {})).toThrow(ConfigError)
    expect(() => parseConfig(text, {})).toThrow(
      /sources\[0\]\.rules\[0\]\.secrets\[0\]\.name: ambiguous pointer/,
    )
  })
})
