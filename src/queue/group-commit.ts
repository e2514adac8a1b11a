// Group commit: calls made while a batch is being committed share the next one, so a burst costs one
// commit (one fsync, one round trip), not one each. SQLite commits in the same tick; PostgreSQL awaits.

/** Collects submitted items and commits them together. */
export interface GroupCommit<I, O> {
  /** Resolves with this item's own result once its batch has committed; rejects if the batch failed. */
  submit(item: I): Promise<O>
  /** Starts committing whatever is waiting now (before close), if a batch may start. */
  flush(): void
  /** Batches attempted so far: one transaction each. */
  readonly batches: number
}

export interface GroupCommitOptions {
  /** Batches committing at once (asynchronous batches only); more wait and grow the next one. Default 1. */
  maxInFlight?: number
  /** Most items one batch takes; the rest start the next batch. Default unbounded. */
  maxItems?: number
  /**
   * Longest a caller waits for its item's batch, in ms; then it gets `deadline.error()` (its batch may
   * still commit later, see createGroupCommit). Default: no deadline.
   */
  deadline?: { ms: number; error: () => unknown }
}

interface Waiting<I, O> {
  item: I
  resolve(result: O): void
  reject(err: unknown): void
  timer?: NodeJS.Timeout
}

/**
 * Makes a group commit around `runBatch`, which must return one result per item, in order, and be
 * all-or-nothing if it throws. Synchronous batches (SQLite) run on the next turn of the event loop;
 * asynchronous ones (a round trip) run as soon as fewer than `maxInFlight` are committing, so items
 * arriving meanwhile wait and go together. When a batch throws, each of its callers gets `toError(err)`.
 * A result that is an `ItemFailure` rejects that item's caller alone.
 *
 * With a `deadline`, a caller still waiting when it passes is answered `deadline.error()` at once. An
 * item not taken by a batch yet is dropped: it is never written. An item whose batch is running stays
 * in it, and that batch may still commit it after its caller was refused. Both are safe only because
 * the caller is told the item was not taken (a webhook gets 503 and its provider sends it again) and
 * writing is idempotent by key (an event id is recorded once: the resend of one that did commit finds
 * it and is answered as a duplicate, the resend of one that did not is recorded then).
 */
export function createGroupCommit<I, O>(
  runBatch: (items: I[]) => Array<O | ItemFailure> | Promise<Array<O | ItemFailure>>,
  toError: (err: unknown) => unknown = (err) => err,
  options: GroupCommitOptions = {},
): GroupCommit<I, O> {
  const maxInFlight = options.maxInFlight ?? 1
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY
  let waiting: Waiting<I, O>[] = []
  let scheduled: NodeJS.Immediate | null = null
  let inFlight = 0
  let batches = 0

  function deliver(batch: Waiting<I, O>[], results: Array<O | ItemFailure>): void {
    batch.forEach((w, i) => {
      clearTimeout(w.timer)
      const result = results[i]
      if (result instanceof ItemFailure) w.reject(toError(result.error))
      else w.resolve(result as O)
    })
  }
  function fail(batch: Waiting<I, O>[], err: unknown): void {
    const error = toError(err)
    for (const w of batch) {
      clearTimeout(w.timer)
      w.reject(error)
    }
  }

  function flush(): void {
    if (scheduled !== null) clearImmediate(scheduled)
    scheduled = null
    while (waiting.length > 0 && inFlight < maxInFlight) {
      const batch = waiting.length > maxItems ? waiting.splice(0, maxItems) : waiting
      if (batch === waiting) waiting = []
      batches++
      let results: Array<O | ItemFailure> | Promise<Array<O | ItemFailure>>
      try {
        results = runBatch(batch.map((w) => w.item))
      } catch (err) {
        fail(batch, err)
        continue
      }
      if (!(results instanceof Promise)) {
        deliver(batch, results)
        continue
      }
      inFlight++
      results
        .then(
          (r) => deliver(batch, r),
          (err) => fail(batch, err),
        )
        .finally(() => {
          inFlight--
          // what arrived while this batch committed goes next, with what this poll phase still reads
          if (waiting.length > 0) scheduled ??= setImmediate(flush)
        })
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        const w: Waiting<I, O> = { item, resolve, reject }
        const deadline = options.deadline
        if (deadline !== undefined) {
          w.timer = setTimeout(() => {
            // still waiting for a batch: dropped, never written; in a running batch: see above
            const at = waiting.indexOf(w)
            if (at >= 0) waiting.splice(at, 1)
            reject(deadline.error())
          }, deadline.ms)
        }
        waiting.push(w)
        // setImmediate runs after pending I/O callbacks, so requests read in the same poll phase join in
        if (inFlight < maxInFlight) scheduled ??= setImmediate(flush)
      })
    },
    flush,
    get batches() {
      return batches
    },
  }
}

/** A batch result that fails one item alone (the others of its batch committed). */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}
