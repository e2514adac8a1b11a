// The Dockerfile and compose file, read as text (no Docker engine here): safe defaults and OCI labels.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const dockerfile = readFileSync('Dockerfile', 'utf8')
/** The final stage: everything after the last FROM. */
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))

describe('Dockerfile', () => {
  it('ships no config of its own: the example is never the default', () => {
    expect(runtime).not.toMatch(/COPY\s+relay\.example\.yaml\s+\/etc\/vault-relay/)
    expect(runtime).toContain('RELAY_CONFIG=/etc/vault-relay/relay.yaml')
  })

  it('serves without --demo, as the node user', () => {
    expect(runtime).toMatch(/CMD \["node", "--max-semi-space-size=4", "dist\/cli\.js", "serve"\]/)
    expect(runtime).not.toContain('--demo')
    expect(runtime).toMatch(/^USER node$/m)
  })

  it('builds explicitly (no install-time build) and carries the OCI labels', () => {
    expect(dockerfile).toMatch(/RUN npm run build && npm prune --omit=dev/)
    for (const label of ['title', 'description', 'version', 'revision', 'created', 'licenses', 'base.name'])
      expect(runtime).toContain(`org.opencontainers.image.${label}=`)
    expect(runtime).toContain('org.opencontainers.image.licenses="MIT"')
  })
})

/** What the image may copy in: the package files, the TypeScript configs, src/ and the console's assets/. */
const BUILD_INPUT =
  /^(src|assets|package(-lock)?\.json|tsconfig(\.build)?\.json|openapi\.yaml|relay\.example\.yaml)$/

describe('the image', () => {
  it('is built from src/ alone: tools/ (the fake RWX, the demo), test/ and bench/ never reach it', () => {
    const copied = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    )
    expect(copied).toContain('src')
    expect(copied.filter((path) => !BUILD_INPUT.test(path))).toEqual([])
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n')
    expect(ignored).toEqual(expect.arrayContaining(['tools', 'dist-tools']))
  })
})

describe('deploy/compose.yaml', () => {
  it('requires RELAY_CONFIG_FILE instead of falling back to the example', () => {
    const compose = parse(readFileSync('deploy/compose.yaml', 'utf8')) as { 'x-relay': { volumes: string[] } }
    const [config] = compose['x-relay'].volumes
    expect(config).toMatch(/^\$\{RELAY_CONFIG_FILE:\?[^}]+\}:\/etc\/vault-relay\/relay\.yaml:ro$/)
    expect(config).not.toContain('relay.example.yaml}')
  })
})
