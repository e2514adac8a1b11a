// The admin commands' one-line failure, with its exit code.
/** A failure to report in one line: the relay's problem detail or why it is unreachable (1), or usage (2). */
export class AdminError extends Error {
  override readonly name = 'AdminError'
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message)
  }
}
