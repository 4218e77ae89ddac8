/**
 * The shared test kit: waiting, collecting events, temporary directories, profiles, relays and messengers on
 * loopback. Every test node listens and dials on 127.0.0.1, so the whole test network is one address range: the
 * per-range caps that protect real nodes from one host are raised for it, explicitly (ONE_HOST).
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMessenger, type Messenger, type MessengerOptions, type NetworkOptions } from '@parley/messenger'
import { collect, memoryProfile } from '@parley/messenger/testing'
import { createRelay, type Relay, type RelayOptions } from '@parley/relay'
import { until } from '@parley/test-kit'

/** Lower-case hex of bytes (identity keys as the API takes them): @parley/crypto's `toHex`. */
export { toHex as hex } from '@parley/crypto'
/** The one shared wait (`@parley/test-kit`): until(check, ms, what). */
/** The shared profile and event collector (`@parley/messenger/testing`). */
export { collect, memoryProfile, until }

/** One test network on one host: raised per-range caps, a Kademlia k larger than the network. */
export const ONE_HOST: NetworkOptions = {
  kBucketSize: 20,
  rangeLimits: { maxInboundConnectionsPerRange: 1_000, maxReservationsPerRange: 1_000 },
  routingLimits: { maxRoutingPeersPerRange: 1_000, maxRoutingPeersPerRangePerBucket: 1_000 }
}

/** Everything one test file starts, stopped and deleted by `stop()`. */
export class Fixture {
  readonly messengers: Messenger[] = []
  readonly relays: Relay[] = []
  readonly dirs: string[] = []
  readonly stops: Array<() => Promise<unknown>> = []

  /** Runs `stop` when the fixture stops (nodes a test starts itself). */
  onStop(stop: () => Promise<unknown>): void {
    this.stops.push(stop)
  }

  async dir(prefix = 'parley-test-'): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(d)
    return d
  }

  /** A relay on loopback with its state in a fresh directory (or `dataDir`). */
  async relay(options: Partial<RelayOptions> = {}): Promise<Relay> {
    const relay = await createRelay({
      dataDir: options.dataDir ?? (await this.dir('parley-relay-')),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      http: false,
      maxInboundConnectionsPerRange: 1_000,
      maxReservationsPerRange: 1_000,
      inboundConnectionThreshold: 1_000,
      logSink: () => {},
      ...options
    })
    this.relays.push(relay)
    return relay
  }

  /** A messenger on loopback (a fresh in-memory profile unless `options.store` is given). */
  async messenger(options: Partial<MessengerOptions> = {}): Promise<Messenger> {
    const m = await createMessenger({
      store: options.store ?? (await memoryProfile()),
      ...options,
      network: { ...ONE_HOST, ...options.network }
    })
    this.messengers.push(m)
    return m
  }

  async stop(): Promise<void> {
    for (const s of this.stops) await s().catch(() => {})
    for (const m of this.messengers) await m.stop().catch(() => {})
    for (const r of this.relays) await r.stop().catch(() => {})
    for (const d of this.dirs) await rm(d, { recursive: true, force: true })
  }
}

/** A relay's first address (with /p2p/). */
export function addressOf(relay: Relay): string {
  return relay.multiaddrs[0]!.toString()
}
