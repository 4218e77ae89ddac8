/**
 * How loaded the process is, for join admission: over the last window, the share of time the event loop was busy
 * (Node's event-loop utilization) and how late a timer fired (its median delay). All nodes of a thread share this loop,
 * so a busy loop delays every Noise handshake, kad-dht RPC and timer of every node; a late timer with a loop that is
 * not busy means the machine's cores are taken by other processes. Joins wait while either is high: starting more
 * nodes then only makes handshakes and queries time out.
 */
import { performance } from 'node:perf_hooks'
import { LOAD_SAMPLE_MS, LOAD_WINDOW_MS } from './constants.ts'

/** The event loop's load over the last full window. */
export class LoadGauge {
  readonly #timer: ReturnType<typeof setInterval>
  readonly #samples: number[] = []
  #last = performance.now()
  #windowStart = performance.now()
  #elu = performance.eventLoopUtilization()
  #lagMs = 0
  #utilization = 0
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
    this.#lagMs = s[Math.floor(s.length / 2)] ?? 0
    this.#worstMs = Math.max(this.#worstMs, s.at(-1) ?? 0)
    const elu = performance.eventLoopUtilization()
    this.#utilization = performance.eventLoopUtilization(elu, this.#elu).utilization
    this.#elu = elu
    this.#samples.length = 0
    this.#windowStart = now
  }

  /** Median delay of the timer in the last window, ms. */
  get lagMs(): number {
    return this.#lagMs
  }

  /** Share of the last window the event loop was busy (0–1). */
  get utilization(): number {
    return this.#utilization
  }

  /** Longest single stall since the gauge started, ms. */
  get worstMs(): number {
    return this.#worstMs
  }

  /** Whether the loop has room for more work: neither busy beyond `maxUtilization` nor late beyond `maxLagMs`. */
  hasRoom(maxUtilization: number, maxLagMs: number): boolean {
    return this.#utilization < maxUtilization && this.#lagMs < maxLagMs
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
