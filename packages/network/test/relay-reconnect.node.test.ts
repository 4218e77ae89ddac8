/**
 * Finding 13 (owner side) — after a relay we rely on restarts, we republish soon instead of at the next periodic
 * republish. onRelayReconnect tells the owner when one of its relays connects again after its connection was lost.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { until } from '@parley/test-kit'
import { afterEach, describe, expect, it } from 'vitest'
import { onRelayReconnect } from '../src/index.ts'
import { parleyNode, stopAll, WAIT_MS } from './helpers.ts'

afterEach(stopAll)

describe('onRelayReconnect', () => {
  it('fires once when a relay comes back after a restart, not on the first connection and not for other peers', async () => {
    const relayKey = await generateKeyPair('Ed25519')
    const relay = await parleyNode('127.0.7.1', {}, relayKey)
    const relayAddress = relay.getMultiaddrs()[0]!.toString()
    const other = await parleyNode('127.0.7.2')
    const owner = await parleyNode('127.0.8.1')
    const calls: string[] = []
    const stop = onRelayReconnect(owner, [relayAddress], (id) => calls.push(id), { delayMs: 100 })

    await owner.dial(relay.getMultiaddrs()[0]!)
    await owner.dial(other.getMultiaddrs()[0]!)
    await other.stop()
    await owner.dial(other.getMultiaddrs()[0]!).catch(() => {})
    await new Promise((r) => setTimeout(r, 300))
    expect(calls).toEqual([])

    // The relay restarts (same key, same address family; a new port, as after a process restart with port 0).
    await relay.stop()
    await until(() => owner.getConnections(relay.peerId).length === 0, WAIT_MS, 'the owner to notice the relay went')
    const restarted = await parleyNode('127.0.7.1', {}, relayKey)
    await owner.dial(restarted.getMultiaddrs()[0]!)
    await until(() => calls.length === 1, WAIT_MS, 'the reconnect callback')
    expect(calls).toEqual([relay.peerId.toString()])
    await new Promise((r) => setTimeout(r, 300))
    expect(calls.length).toBe(1)
    stop()
  })
})
