/** RangeRateLimiter: fixed windows of RATE_LIMIT_WINDOW_MS per source range, and a bounded number of ranges. */
import { describe, expect, it } from 'vitest'
import { DEFAULT_RATE_LIMITER_MAX_KEYS, RATE_LIMIT_WINDOW_MS } from '../src/constants.ts'
import { RangeRateLimiter } from '../src/index.ts'

describe('RangeRateLimiter', () => {
  it('admits perMinute requests from a range, then says how long until its window resets', () => {
    const limiter = new RangeRateLimiter(3)
    const t0 = 1_000_000
    for (let i = 0; i < 3; i++) expect(limiter.take('ip4:10.0.0', t0 + i)).toBe(0)
    expect(limiter.take('ip4:10.0.0', t0 + 10)).toBe(RATE_LIMIT_WINDOW_MS - 10)
    // Another range has its own window.
    expect(limiter.take('ip4:10.0.1', t0 + 10)).toBe(0)
    expect(limiter.take('ip4:10.0.0', t0 + RATE_LIMIT_WINDOW_MS - 1)).toBe(1)
    expect(limiter.take('ip4:10.0.0', t0 + RATE_LIMIT_WINDOW_MS)).toBe(0)
  })

  it('forgets the oldest range past maxKeys, so memory stays bounded', () => {
    expect(DEFAULT_RATE_LIMITER_MAX_KEYS).toBe(65_536)
    const limiter = new RangeRateLimiter(1, 2)
    const now = 5_000
    expect(limiter.take('a', now)).toBe(0)
    expect(limiter.take('b', now)).toBe(0)
    expect(limiter.take('a', now)).toBeGreaterThan(0)
    expect(limiter.take('c', now)).toBe(0) // a third range: 'a', the oldest, is forgotten
    expect(limiter.take('a', now)).toBe(0) // so 'a' starts a fresh window…
    expect(limiter.take('c', now)).toBeGreaterThan(0) // …while 'c' is still counted
  })
})
