// The one way tests wait for work they cannot await: poll a condition, with a bound, never a bare sleep.

/**
 * Resolves once `check` returns true, polling every `everyMs`; rejects after `timeoutMs` naming `what`
 * (what the test was waiting for), so a timed-out wait says which condition never held.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
