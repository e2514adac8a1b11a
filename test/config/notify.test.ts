// The optional `notify` block: off when unset, its defaults, and a readable error for a bad URL or secret.
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { configProblems } from '../support/config-problems.js'

const parse = (text: string) => parseConfigText(text, {}, 'config', {})
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

const problemsOf = (text: string) => configProblems(() => parse(text))

describe('notify', () => {
  it('is off when unset', () => {
    expect(parse('').notify).toBeUndefined()
  })

  it('takes a URL and a whsec_ secret, and defaults the rest', () => {
    expect(parse(`notify: { url: "https://hooks.example.com/relay", secret: "${SECRET}" }`).notify).toEqual({
      url: 'https://hooks.example.com/relay',
      secret: SECRET,
      events: ['dead', 'drift', 'outside-change'],
      timeoutMs: 5_000,
      maxAttempts: 12,
      backoffBaseMs: 5_000,
      backoffMaxMs: 900_000,
    })
  })

  it('refuses a URL that is not http(s), a secret that is not whsec_, and an unknown event', () => {
    const problems = problemsOf(
      `notify: { url: "ftp://x.example/y", secret: "hunter2", events: [dead, lunch] }`,
    )
    expect(problems).toEqual([
      expect.stringMatching(/^notify\.url: /),
      expect.stringMatching(/^notify\.secret: must be whsec_/),
      expect.stringMatching(/^notify\.events\[1\]: /),
    ])
    // the bad secret is never quoted
    expect(problems.join('\n')).not.toContain('hunter2')
  })
})
