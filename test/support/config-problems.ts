// The problems a config is refused with, for the tests that assert them.
import { ConfigError } from '../../src/config/load.js'

/** The problem lines of the ConfigError `parse` throws; throws (failing the test) when the config is accepted. */
export function configProblems(parse: () => unknown): string[] {
  try {
    parse()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('config was accepted')
}
