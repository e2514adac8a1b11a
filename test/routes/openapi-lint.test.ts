// openapi.yaml passes Redocly's strict lint (structure, security on every operation, no stray keys).
import { createConfig, lint } from '@redocly/openapi-core'
import { describe, expect, it } from 'vitest'

describe('openapi.yaml lint', () => {
  it("has no problem under Redocly's recommended-strict rules", async () => {
    const config = await createConfig({
      extends: ['recommended-strict'],
      rules: {
        // Probes, metrics and the JWKS answer no client error: a made-up 4XX would be a lie.
        'operation-4xx-response': 'off',
        // The relay is self-hosted: its own address is the only honest default server.
        'no-server-example.com': 'off',
      },
    })
    const problems = await lint({ ref: 'openapi.yaml', config })
    const found = problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`)
    expect(found).toEqual([])
  })
})
