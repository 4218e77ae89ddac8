/**
 * Finding 3 — one IP address can lock honest peers out. libp2p refuses every new inbound connection at its ceiling,
 * so a host that opens connections (with free peer ids) until the ceiling is reached locks everyone else out. The
 * Node preset's connection policy caps inbound connections per address range (IPv4 /24): hosts in 127.0.0.0/24 play
 * the attacker, 127.0.1.1 the honest peer from another /24.
 */

import { until } from '@parley/test-kit'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE, sourceRange } from '../src/index.ts'
import { bareNode, parleyNode, stopAll, WAIT_MS } from './helpers.ts'

afterEach(stopAll)

describe('per-range connection cap (Node preset)', () => {
  it('one /24 opening connections up to the ceiling holds at most its share, and a peer from another /24 still connects', async () => {
    const target = await parleyNode('127.0.0.1')
    const address = target.getMultiaddrs()[0]!
    // Ten attacker hosts of one /24 (127.0.0.10-19), each opening connections back to back with `force`, together
    // more than the whole connection ceiling.
    const perHost = Math.ceil((DEFAULT_MAX_CONNECTIONS + 20) / 10)
    let opened = 0
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const attacker = await bareNode(`127.0.0.${10 + i}`)
        for (let n = 0; n < perHost; n++) {
          try {
            await attacker.dial(address, { force: true, signal: AbortSignal.timeout(5_000) })
            opened++
          } catch {
            // refused
          }
          // Stay under libp2p's own per-IP rate limit (DEFAULT_INBOUND_CONNECTION_THRESHOLD per second).
          await new Promise((r) => setTimeout(r, 15))
        }
      })
    )
    const honest = await bareNode('127.0.1.1')
    const conn = await honest.dial(address, { signal: AbortSignal.timeout(5_000) })
    expect(conn.status).toBe('open')
    await until(
      () => target.getConnections(honest.peerId).length > 0,
      WAIT_MS,
      'the target to list the honest connection'
    )
    expect(sourceRange(target.getConnections(honest.peerId)[0]!.remoteAddr)).toBe('ip4:127.0.1')

    const fromAttackers = () =>
      target.getConnections().filter((c) => sourceRange(c.remoteAddr) === 'ip4:127.0.0' && c.direction === 'inbound')
    expect(opened).toBeLessThanOrEqual(DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE)
    expect(fromAttackers().length).toBeLessThanOrEqual(DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE)
  })

  it("a range's slots come back when its connections close (the cap is on connections held, not a ban)", async () => {
    const target = await parleyNode('127.0.0.1', { rangeLimits: { maxInboundConnectionsPerRange: 4 } })
    const address = target.getMultiaddrs()[0]!
    const first = await bareNode('127.0.2.1')
    for (let n = 0; n < 4; n++) await first.dial(address, { force: true, signal: AbortSignal.timeout(5_000) })
    const second = await bareNode('127.0.2.2')
    await expect(second.dial(address, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    await first.stop()
    await until(() => target.getConnections(first.peerId).length === 0, WAIT_MS, 'the closed connections to go')
    const conn = await second.dial(address, { signal: AbortSignal.timeout(5_000) })
    expect(conn.status).toBe('open')
  })
})
