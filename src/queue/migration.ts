// One schema version of a queue backend: the shape both SQLite's and PostgreSQL's migration lists share.

/**
 * One schema version of a backend. A released migration is frozen: databases in the field have run it,
 * so its SQL never changes again (test/queue/migration-hashes.test.ts pins its sha256); the schema
 * changes by appending a new version to the backend's `migrations/index.ts`.
 */
export interface Migration {
  /** Its schema version: its 1-based place in its backend's list. */
  readonly version: number
  /** What it does, as in its file name (`0004-batched-writes.ts`). */
  readonly name: string
  /** True once shipped in a release: from then on its SQL is frozen. */
  readonly released: boolean
  /** Its statements, run in one transaction with the version's record. */
  readonly sql: string
}

/**
 * Returns `list` after checking that it holds versions 1..n in order, which is what the migrators count
 * on (a database's version is how many of the list it has run): a version misplaced in an index throws
 * at start-up rather than skipping or repeating a step.
 */
export function inOrder(list: readonly Migration[]): readonly Migration[] {
  list.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration ${m.name} is version ${m.version}, listed as ${i + 1}`)
  })
  return list
}
