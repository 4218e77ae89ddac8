/**
 * The events a `--json` child process (`parley run --json`) prints, one JSON object a line, collected as they come,
 * and a wait for the first one that matches. Node only (`node:readline` is loaded when constructed), so browser tests
 * may import this package.
 */
import type * as Readline from 'node:readline'
import { UNTIL_POLL_MS, UntilTimeoutError } from './until.ts'

/** How long `JsonLines.next` waits when the caller names no limit, ms (a node's start plus a DHT round). */
export const DEFAULT_EVENT_WAIT_MS = 45_000

/** Every line a process printed on `stdout`, as text (`raw`) and parsed (`events`), in order. */
export class JsonLines<E = Record<string, unknown>> {
  readonly raw: string[] = []
  readonly events: E[] = []
  readonly #wake = new Set<() => void>()

  constructor(stdout: NodeJS.ReadableStream) {
    const { createInterface } = process.getBuiltinModule('node:readline') as typeof Readline
    createInterface({ input: stdout }).on('line', (line) => {
      this.raw.push(line)
      this.events.push(JSON.parse(line) as E)
      for (const w of this.#wake) w()
    })
  }

  /**
   * The first event matching `pred`, already printed or still to come (woken by each new line, and every
   * UNTIL_POLL_MS). After `ms` throws UntilTimeoutError naming `what` and listing the events seen.
   */
  async next(pred: (e: E) => boolean, what: string, ms = DEFAULT_EVENT_WAIT_MS): Promise<E> {
    const end = Date.now() + ms
    for (;;) {
      const found = this.events.find(pred)
      if (found !== undefined) return found
      if (Date.now() > end) throw new UntilTimeoutError(`${what}; events: ${JSON.stringify(this.events)}`, ms)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.#wake.delete(done)
          resolve()
        }
        const timer = setTimeout(done, UNTIL_POLL_MS)
        this.#wake.add(done)
      })
    }
  }
}
