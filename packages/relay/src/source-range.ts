/**
 * Rate limits key on the source address range, not on the peer id: peer ids are free, address ranges are not.
 * The ranges themselves (IPv4 /24, IPv6 /64, circuits under their relay) are @parley/network's `sourceRange`.
 */
import { DEFAULT_RATE_LIMITER_MAX_KEYS, RATE_LIMIT_WINDOW_MS } from './constants.ts'

/**
 * Fixed one-minute windows (RATE_LIMIT_WINDOW_MS) per key, bounded: past `maxKeys` the oldest key is forgotten (an attacker cycling ranges
 * gets a fresh window for the forgotten ones, never unbounded memory).
 */
export class RangeRateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>()
  readonly #perMinute: number
  readonly #maxKeys: number

  constructor(perMinute: number, maxKeys = DEFAULT_RATE_LIMITER_MAX_KEYS) {
    this.#perMinute = perMinute
    this.#maxKeys = maxKeys
  }

  /** Counts one request; returns 0 when admitted, else the ms until the window resets. */
  take(key: string, now: number): number {
    let w = this.#windows.get(key)
    if (w === undefined || now - w.start >= RATE_LIMIT_WINDOW_MS) {
      this.#windows.delete(key)
      w = { start: now, count: 0 }
      this.#windows.set(key, w)
      if (this.#windows.size > this.#maxKeys) this.#windows.delete(this.#windows.keys().next().value!)
    }
    if (w.count >= this.#perMinute) return Math.max(1, w.start + RATE_LIMIT_WINDOW_MS - now)
    w.count++
    return 0
  }
}
