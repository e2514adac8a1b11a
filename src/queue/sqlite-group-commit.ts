// Group commit: calls made in the same tick share one transaction, so a burst costs one fsync, not many.

/** Collects submitted items and commits them together on the next turn of the event loop. */
export interface GroupCommit<I, O> {
  /** Resolves with this item's own result once its batch has committed; rejects if the batch failed. */
  submit(item: I): Promise<O>
  /** Commits whatever is waiting now (before close). */
  flush(): void
  /** Batches attempted so far: one transaction each. */
  readonly batches: number
}

interface Waiting<I, O> {
  item: I
  resolve(result: O): void
  reject(err: unknown): void
}

/**
 * Makes a group commit around `runBatch`, which must be all-or-nothing (one transaction) and return one
 * result per item, in order. When it throws, every caller of the batch gets `toError(err)`.
 */
export function createGroupCommit<I, O>(
  runBatch: (items: I[]) => O[],
  toError: (err: unknown) => unknown = (err) => err,
): GroupCommit<I, O> {
  let waiting: Waiting<I, O>[] = []
  let scheduled: NodeJS.Immediate | null = null
  let batches = 0

  function flush(): void {
    if (scheduled !== null) clearImmediate(scheduled)
    scheduled = null
    if (waiting.length === 0) return
    const batch = waiting
    waiting = []
    batches++
    let results: O[]
    try {
      results = runBatch(batch.map((w) => w.item))
    } catch (err) {
      const error = toError(err)
      for (const w of batch) w.reject(error)
      return
    }
    batch.forEach((w, i) => {
      w.resolve(results[i] as O)
    })
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        waiting.push({ item, resolve, reject })
        // setImmediate runs after pending I/O callbacks, so requests read in the same poll phase join in
        scheduled ??= setImmediate(flush)
      })
    },
    flush,
    get batches() {
      return batches
    },
  }
}
