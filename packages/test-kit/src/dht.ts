/**
 * Waiting for a DHT record: the step almost every cross-node test takes before it sends (a put with no peers yet only
 * stores locally, so tests publish again until the other side can look the record up).
 */
import { until } from './until.ts'

/** How long one publish or one lookup may take inside `untilFound` unless the caller says otherwise, ms. */
export const FIND_STEP_MS = 5_000

/** What `untilFound` needs of a node (a messenger has it): structural, so this kit stays free of dependencies. */
export interface Discoverable<R = unknown> {
  readonly identityKey: Uint8Array
  publish(options?: { signal?: AbortSignal }): Promise<unknown>
  lookup(identity: Uint8Array, options?: { signal?: AbortSignal }): Promise<R>
}

export interface UntilFoundOptions<R> {
  /** What the record must show (its relays, a circuit address); any record by default. */
  accept?: (found: R) => boolean
  /** The limit of one publish and of one lookup, ms (FIND_STEP_MS by default). */
  stepMs?: number
}

/**
 * Until `seeker` finds `target`'s record and `accept` holds for it: each round `target` publishes, then `seeker` looks
 * it up, each step bounded by `stepMs`; a failed step only means another round. Throws UntilTimeoutError naming `what`
 * after `ms`. Returns the record found.
 */
export async function untilFound<R>(
  seeker: Discoverable<R>,
  target: Discoverable<unknown>,
  ms: number,
  what: string,
  options: UntilFoundOptions<R> = {}
): Promise<R> {
  const step = options.stepMs ?? FIND_STEP_MS
  let found: R | undefined
  await until(
    async () => {
      try {
        await target.publish({ signal: AbortSignal.timeout(step) })
        const record = await seeker.lookup(target.identityKey, { signal: AbortSignal.timeout(step) })
        if (options.accept !== undefined && !options.accept(record)) return false
        found = record
        return true
      } catch {
        return false
      }
    },
    ms,
    what
  )
  return found as R
}

/**
 * Until `a` and `b` find each other's records (and `accept` holds for the one `a` finds): each round both publish (`b`
 * first), then `a` looks up `b` and `b` looks up `a`, each step bounded by `stepMs`. One round covers both, so both
 * records are fresh when the test goes on (tests that then dial in both directions were seen to depend on that).
 */
export async function untilFoundEachOther<R>(
  a: Discoverable<R>,
  b: Discoverable,
  ms: number,
  what: string,
  options: UntilFoundOptions<R> = {}
): Promise<void> {
  const step = options.stepMs ?? FIND_STEP_MS
  await until(
    async () => {
      try {
        await b.publish({ signal: AbortSignal.timeout(step) })
        await a.publish({ signal: AbortSignal.timeout(step) })
        const found = await a.lookup(b.identityKey, { signal: AbortSignal.timeout(step) })
        if (options.accept !== undefined && !options.accept(found)) return false
        await b.lookup(a.identityKey, { signal: AbortSignal.timeout(step) })
        return true
      } catch {
        return false
      }
    },
    ms,
    what
  )
}
