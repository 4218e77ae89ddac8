/**
 * The publish retry backs off: a failed put of our DHT record retries after REPUBLISH_RETRY_MS, doubling per failure
 * in a row up to REPUBLISH_RETRY_MAX_MS, each wait jittered down by up to REPUBLISH_RETRY_JITTER; a node with no peers
 * yet keeps looking at the base delay; a successful publish resets the backoff and waits the republish interval.
 * (A fixed 2 s retry made every node of an overloaded network retry at once and kept it overloaded — the simulator
 * measured it.) The loop under test is the Publisher's own republishLoop; its core gives it connections and records
 * the delays it asks for.
 */
import { describe, expect, it } from 'vitest'
import { REPUBLISH_RETRY_JITTER, REPUBLISH_RETRY_MAX_MS } from '../src/constants.ts'
import { type Core, REPUBLISH_RETRY_MS } from '../src/core.ts'
import { Publisher, republishRetryDelay } from '../src/publishing.ts'

describe('publish retry backoff', () => {
  it('the nominal delay doubles per failure in a row and stops at REPUBLISH_RETRY_MAX_MS', () => {
    expect(republishRetryDelay(0, 0)).toBe(REPUBLISH_RETRY_MS)
    expect(republishRetryDelay(1, 0)).toBe(REPUBLISH_RETRY_MS)
    expect(republishRetryDelay(2, 0)).toBe(2 * REPUBLISH_RETRY_MS)
    expect(republishRetryDelay(3, 0)).toBe(4 * REPUBLISH_RETRY_MS)
    const capAt = Math.ceil(Math.log2(REPUBLISH_RETRY_MAX_MS / REPUBLISH_RETRY_MS)) + 1
    expect(republishRetryDelay(capAt - 1, 0)).toBeLessThan(REPUBLISH_RETRY_MAX_MS)
    expect(republishRetryDelay(capAt, 0)).toBe(REPUBLISH_RETRY_MAX_MS)
    expect(republishRetryDelay(10_000, 0)).toBe(REPUBLISH_RETRY_MAX_MS)
  })

  it('the jitter takes at most REPUBLISH_RETRY_JITTER off, so nodes that failed together spread out', () => {
    for (const failures of [1, 4, 50]) {
      const nominal = republishRetryDelay(failures, 0)
      const lowest = republishRetryDelay(failures, 1 - 2 ** -32)
      expect(lowest).toBeGreaterThanOrEqual(Math.floor(nominal * (1 - REPUBLISH_RETRY_JITTER)))
      expect(lowest).toBeLessThan(nominal * (1 - REPUBLISH_RETRY_JITTER / 2))
      expect(republishRetryDelay(failures, 0.5)).toBe(Math.round(nominal * (1 - REPUBLISH_RETRY_JITTER / 2)))
    }
  })

  it('republishLoop: failed puts back off and spread, no peers retries at the base delay, a success resets', async () => {
    const REPUBLISH_INTERVAL = 600_000
    const delays: number[] = []
    let connections = 1
    let failPut = true
    const core = {
      mailboxes: { refreshMailboxes: async () => {} },
      libp2p: { getConnections: () => Array.from({ length: connections }) },
      republishIntervalMs: REPUBLISH_INTERVAL,
      later: (_fn: () => Promise<void>, delay: number) => delays.push(delay)
    } as unknown as Core
    let puts = 0
    class ProbedPublisher extends Publisher {
      override async publish(): Promise<void> {
        puts++
        if (failPut) throw new Error('query timed out')
      }
      override async replenishPrekeys(): Promise<void> {}
    }
    const p = new ProbedPublisher(core)
    for (let i = 0; i < 6; i++) await p.republishLoop()
    expect(puts).toBe(6)
    expect(p.publishFailures).toBe(6)
    // Each wait lies in its doubling window: failure n waits within [(1 − jitter)·2^(n−1), 2^(n−1)] × base.
    for (const [n, d] of delays.entries()) {
      const nominal = REPUBLISH_RETRY_MS * 2 ** n
      expect(d).toBeLessThanOrEqual(nominal)
      expect(d).toBeGreaterThanOrEqual(Math.floor(nominal * (1 - REPUBLISH_RETRY_JITTER)))
    }
    expect(delays[5]).toBeGreaterThan(delays[0]! * 8)

    // No peers: nothing is attempted and it looks again at the base delay (cheap), keeping the backoff for later puts.
    connections = 0
    delays.length = 0
    await p.republishLoop()
    expect(puts).toBe(6)
    expect(p.publishFailures).toBe(6)
    expect(delays[0]).toBeLessThanOrEqual(REPUBLISH_RETRY_MS)
    expect(delays[0]).toBeGreaterThanOrEqual(REPUBLISH_RETRY_MS * (1 - REPUBLISH_RETRY_JITTER))

    // A publish that succeeds resets the backoff and waits the republish interval.
    connections = 1
    failPut = false
    delays.length = 0
    await p.republishLoop()
    expect(p.publishFailures).toBe(0)
    expect(delays).toEqual([REPUBLISH_INTERVAL])

    // Many nodes whose first put fails together do not retry together: their first waits spread over the window.
    failPut = true
    delays.length = 0
    for (let i = 0; i < 200; i++) await new ProbedPublisher(core).republishLoop()
    expect(delays).toHaveLength(200)
    expect(new Set(delays).size).toBeGreaterThan(50)
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan((REPUBLISH_RETRY_MS * REPUBLISH_RETRY_JITTER) / 2)
  })
})
