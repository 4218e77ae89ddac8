/**
 * How loaded the process is, for join admission: how late a timer fires (the event loop's delay) over the last window.
 * All nodes of a run share this loop, so its delay is the delay every Noise handshake, kad-dht RPC and timer of every
 * node sees. Joins wait while it is high: starting more nodes then only makes handshakes and queries time out.
 */
import { LOAD_SAMPLE_MS, LOAD_WINDOW_MS } from './constants.ts'

/** Event-loop delay over the last full window (ms), from a timer that should fire every LOAD_SAMPLE_MS. */
export class LoadGauge {
  readonly #timer: ReturnType<typeof setInterval>
  readonly #samples: number[] = []
  #last = performance.now()
  #windowStart = performance.now()
  #lagMs = 0
  #worstMs = 0

  constructor(windowMs = LOAD_WINDOW_MS) {
    this.#timer = setInterval(() => {
      const now = performance.now()
      this.#samples.push(Math.max(0, now - this.#last - LOAD_SAMPLE_MS))
      this.#last = now
      if (now - this.#windowStart >= windowMs) this.#roll(now)
    }, LOAD_SAMPLE_MS)
    this.#timer.unref()
  }

  #roll(now: number): void {
    const s = this.#samples.sort((a, b) => a - b)
    // The median is what a typical callback waited; a window with one long stall and nothing else shows as its mean.
    const median = s[Math.floor(s.length / 2)] ?? 0
    const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)
    this.#lagMs = Math.max(median, mean)
    this.#worstMs = Math.max(this.#worstMs, s.at(-1) ?? 0)
    this.#samples.length = 0
    this.#windowStart = now
  }

  /** Event-loop delay of the last window (the larger of its median and mean), ms. */
  get lagMs(): number {
    return this.#lagMs
  }

  /** Longest single stall since the gauge started, ms. */
  get worstMs(): number {
    return this.#worstMs
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
