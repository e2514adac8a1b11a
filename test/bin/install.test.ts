// `npm ci --omit=dev` works: no install-time script needs a dev tool, and dist/ serves with production dependencies only.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.js'

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
const dir = mkdtempSync(join(tmpdir(), 'relay-install-'))
let relay: RelayProcess | undefined
afterAll(async () => {
  await relay?.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** npm from PATH, offline: every package is in the cache the project's own `npm ci` filled. */
const npm = (args: string[]) =>
  spawnSync('npm', args, {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, npm_config_update_notifier: 'false' },
  })

describe('npm ci --omit=dev', () => {
  it('has no install-time lifecycle script (a build belongs in prepack or the Dockerfile)', () => {
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      expect(pkg.scripts[hook]).toBeUndefined()
    expect(pkg.scripts.prepack).toContain('build')
  })

  it('npm start builds if needed and opts in to demo mode visibly (serve --demo)', () => {
    expect(pkg.scripts.start).toMatch(
      /^node tools\/build-if-stale\.mjs && node .*dist\/cli\.js serve --demo$/,
    )
  })

  it('installs, runs the root lifecycle scripts without dev tools, and the built relay serves', {
    timeout: 300_000,
  }, async () => {
    cpSync('package.json', join(dir, 'package.json'))
    cpSync('package-lock.json', join(dir, 'package-lock.json'))
    // Dependencies' own scripts are skipped (better-sqlite3's would fetch a prebuilt binary); the root's
    // are run next, as npm ci would, with only production dependencies installed.
    const ci = npm(['ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'])
    expect(ci.status, ci.stderr).toBe(0)
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      const run = npm(['run', '--if-present', hook])
      expect(run.status, `${hook}: ${run.stderr}`).toBe(0)
    }
    expect(existsSync(join(dir, 'node_modules', 'typescript'))).toBe(false)
    // The native SQLite binding this machine built, instead of the skipped install script.
    cpSync('node_modules/better-sqlite3/build', join(dir, 'node_modules/better-sqlite3/build'), {
      recursive: true,
    })
    cpSync('dist', join(dir, 'dist'), { recursive: true })
    cpSync('relay.example.yaml', join(dir, 'relay.example.yaml'))
    relay = await startRelayProcess(dir, null, { RWX_ACCESS_TOKEN: 'install-test-token' }, ['--demo'], {
      bin: join(dir, 'dist/cli.js'),
    })
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200)
  })
})
