// Runs once before the suite: compiles dist/ (and dist-tools/) so tests can run the real `vault-relay` binary, and starts
// the PostgreSQL server the PostgreSQL tests make their databases on (stopped at the end).
import { execFileSync } from 'node:child_process'
import type { TestProject } from 'vitest/node'
import { startTestPostgres } from './postgres.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // SKIP_BUILD=1 when iterating on unit tests that do not run the binary.
  // dist-tools/ holds the demo script, which runs against dist/.
  if (process.env.SKIP_BUILD !== '1')
    for (const project of ['tsconfig.build.json', 'tsconfig.tools.json'])
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' })
  // TEST_DATABASE_URL (a superuser URL) when set; else a real PostgreSQL from the npm registry.
  const postgres = await startTestPostgres()
  project.provide('pgAdminUrl', postgres.url)
  project.provide('pgEmbedded', postgres.embedded)
  return async () => {
    await postgres.close()
  }
}
