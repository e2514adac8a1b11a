// Runs once before the suite: compiles dist/ so tests can run the real `vault-relay` binary.
import { execFileSync } from 'node:child_process'

export default async function setup(): Promise<() => Promise<void>> {
  // SKIP_BUILD=1 when iterating on unit tests that do not run the binary.
  if (process.env.SKIP_BUILD !== '1')
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
      stdio: 'inherit',
    })
  return async () => {}
}
