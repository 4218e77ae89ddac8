/** Waiting for a condition: the one `until` every Parley test uses. */

/** How often `until` looks again, ms. */
export const UNTIL_POLL_MS = 50
/** How long `until` waits when the caller names no limit, ms. */
export const DEFAULT_UNTIL_MS = 30_000

/** `until` gave up: names what it waited for and how long. */
export class UntilTimeoutError extends Error {
  static override readonly name = 'UntilTimeoutError'
  readonly code = 'UntilTimeout'
  readonly ms: number
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`)
    this.name = 'UntilTimeoutError'
    this.ms = ms
  }
}

/**
 * Polls `check` every UNTIL_POLL_MS until it is true; throws UntilTimeoutError naming `what` after `ms`. One argument
 * order everywhere: what to check, how long, what it is called.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = DEFAULT_UNTIL_MS,
  what = 'condition'
): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new UntilTimeoutError(what, ms)
    await new Promise((r) => setTimeout(r, UNTIL_POLL_MS))
  }
}
