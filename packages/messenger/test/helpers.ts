/** Test fixtures: messengers over in-memory encrypted profiles on loopback TCP. */

import type { ProfileStore } from '@parley/store'
import { until } from '@parley/test-kit'
import { createMessenger, type Messenger, type Namespace, type NetworkOptions } from '../src/index.ts'
import { collect, memoryProfile } from '../src/testing.ts'

/** The shared profile and event collector (`@parley/messenger/testing`). */
/** The one shared wait (`@parley/test-kit`): until(check, ms, what). */
export { collect, memoryProfile, until }

/**
 * Every test node listens and dials on 127.0.0.1, so the whole test network is one /24: the per-address-range caps on
 * connections and on the DHT routing table (which protect real nodes from one host) are raised for it, explicitly.
 */
export const ONE_HOST_NETWORK: NetworkOptions = {
  rangeLimits: { maxInboundConnectionsPerRange: 1_000 },
  routingLimits: { maxRoutingPeersPerRange: 1_000, maxRoutingPeersPerRangePerBucket: 1_000 }
}

export async function node(network: NetworkOptions = {}, store?: ProfileStore<Namespace>): Promise<Messenger> {
  return createMessenger({
    store: store ?? (await memoryProfile()),
    network: { kBucketSize: 4, ...ONE_HOST_NETWORK, ...network }
  })
}

/** Lower-case hex of bytes (identity keys as the API takes them): @parley/crypto's `toHex`. */
export { toHex as hex } from '@parley/crypto'
