/** Test fixtures: messengers over in-memory encrypted profiles on loopback TCP. */

import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { until } from '@parley/test-kit'
import {
  createMessenger,
  type Messenger,
  type MessengerEvents,
  NAMESPACES,
  type Namespace,
  type NetworkOptions
} from '../src/index.ts'

/** The one shared wait (`@parley/test-kit`): until(check, ms, what). */
export { until }

export async function memoryProfile(): Promise<ProfileStore<Namespace>> {
  const backend = await openStore({ kind: 'memory' })
  return createProfileStore(backend, 'test passphrase', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
}

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

/** Collects events of one type. */
export function collect<K extends keyof MessengerEvents>(m: Messenger, type: K): MessengerEvents[K][] {
  const out: MessengerEvents[K][] = []
  m.events.addEventListener(type, (e) => out.push((e as CustomEvent<MessengerEvents[K]>).detail))
  return out
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
