/**
 * Real Parley nodes on the simulated network: the messenger the apps run (`createMessenger` from @parley/messenger's
 * Node entry) with a libp2p factory that differs from the Node preset only in its transport (the fabric's shaped
 * in-memory transport instead of TCP, WebSockets, circuit relay and WebRTC; no autoNAT, no bootstrap module — the
 * simulator dials each node's bootstrap peers itself), and relays from @parley/relay's `createRelay` listening on the
 * fabric too. Keys follow from the seed: each node's libp2p key and its crypto backend's randomness are drawn from
 * the node's own stream, so the same seed gives the same peer ids, identities and bundles.
 */

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairFromSeed, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import type { ComponentLogger, Logger, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { type CryptoBackend, defaultBackend } from '@parley/crypto'
import { deterministicBackend } from '@parley/crypto/testing'
import {
  type CourierFactory,
  createMessenger,
  type Libp2pFactory,
  type Messenger,
  NAMESPACES,
  type NetworkOptions,
  type ParleyServices
} from '@parley/messenger'
import { ConnectionPolicy, gossip, MonotonicRecordDatastore, parleyDht } from '@parley/network'
import { createRelay, PRIVATE_KEY_FILE, type Relay } from '@parley/relay'
import { createProfileStore, openStore } from '@parley/store'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  CONVERGED_MAINTENANCE_OFF_MS,
  SIM_CONNECTION_MONITOR,
  SIM_MAX_CONNECTIONS,
  SIM_MAX_INCOMING_PENDING,
  SIM_QUERY_SELF_INTERVAL_MS,
  SIM_RANGE_LIMIT
} from './constants.ts'
import { peerKeyOf, quietMaintenance } from './converged.ts'
import { NodeStartFailedError } from './errors.ts'
import type { Rng } from './rng.ts'
import { type Fabric, simTransport } from './transport.ts'

/** Settings every node and relay of one run shares. */
export interface NodeSettings {
  fabric: Fabric
  protocolPrefix: string
  kBucketSize: number
  /**
   * Run the gossipsub service (group chats) as the Node preset does. Scenarios that measure no group traffic may turn
   * it off: its heartbeat (once a second per node) is CPU a thousand nodes on one core cannot spare.
   */
  gossip: boolean
  /**
   * Converged start (converged.ts): kad-dht's self-query and table refresh are off, the simulator builds the tables
   * and places the records. Default false: nodes join live.
   */
  converged?: boolean
}

/** A messenger running on the fabric, with the libp2p node its factory built (for probes: hops, connections). */
export interface SimNode {
  readonly index: number
  readonly messenger: Messenger
  readonly libp2p: Libp2p<ParleyServices>
  /** Identity key, hex (what contacts add). */
  readonly identity: string
}

/** The libp2p factory of simulated node `index` (the Node preset's services over the fabric's transport). */
export function simLibp2pFactory(
  settings: NodeSettings,
  index: number,
  built: (n: Libp2p<ParleyServices>) => void
): Libp2pFactory {
  return async (privateKey: PrivateKey, backend: CryptoBackend, options: NetworkOptions) => {
    const policy = new ConnectionPolicy(options.rangeLimits)
    const node = await createLibp2p({
      privateKey,
      datastore: new MonotonicRecordDatastore(undefined, { ownDeviceKey: publicKeyToProtobuf(privateKey.publicKey) }),
      start: false,
      addresses: { listen: [settings.fabric.address(index)] },
      transports: [simTransport(settings.fabric, index)],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        maxConnections: SIM_MAX_CONNECTIONS,
        maxIncomingPendingConnections: SIM_MAX_INCOMING_PENDING
      },
      connectionGater: policy.gater,
      // A simulated link never dies silently (a crash or partition resets both ends at once), so the monitor's
      // ping per connection every 10 s has nothing to find; at 1,000 nodes it was thousands of streams a second.
      connectionMonitor: { enabled: SIM_CONNECTION_MONITOR },
      ...quietLogger(),
      services: {
        identify: identify(),
        identifyPush: identifyPush(),
        ping: ping(),
        dht: parleyDht(backend, options, { clientMode: false }),
        // Group chats (gossipsub), as in the Node preset.
        ...(settings.gossip && { pubsub: gossip() })
      }
    })
    policy.attach(node)
    if (settings.converged === true) quietMaintenance((node as Libp2p<ParleyServices>).services.dht)
    built(node as Libp2p<ParleyServices>)
    return node as Libp2p<ParleyServices>
  }
}

/** The courier (a throwaway node that deposits at mailbox relays) of node `index`, on the same simulated host. */
export function simCourier(settings: NodeSettings, index: number): CourierFactory {
  return (privateKey) =>
    createLibp2p({
      privateKey,
      start: false,
      addresses: { listen: [] },
      transports: [simTransport(settings.fabric, index)],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: SIM_CONNECTION_MONITOR },
      ...quietLogger()
    })
}

/** Logs nothing: one shared logger for every component of every node (see quietLogger). */
const silent: Logger = Object.assign(() => {}, {
  enabled: false,
  error: () => {},
  trace: () => {},
  newScope: () => silent
})

/**
 * With DEBUG unset, libp2p's default logger still builds three `debug` instances (and asks isatty) for every
 * component of every connection and stream: a few per cent of a large run's CPU, for nothing. Then every node shares
 * one silent logger; with DEBUG set, libp2p's own logger is used as usual.
 */
export function quietLogger(): { logger?: ComponentLogger } {
  if (process.env.DEBUG !== undefined && process.env.DEBUG !== '') return {}
  return { logger: SILENT_LOGGER }
}

/** A component logger that logs nothing. */
export const SILENT_LOGGER: ComponentLogger = { forComponent: () => silent }

/** A node's profile store (kept across leave and rejoin). */
export type SimProfile = Awaited<ReturnType<typeof memoryProfile>>

/** A started node and what it restarts from. */
export interface SpawnedNode extends SimNode {
  readonly store: SimProfile
  readonly backend: CryptoBackend
}

/** Options of one simulated messenger. */
export interface SpawnOptions {
  /** Multiaddrs (with /p2p/) of the peers it joins through (relays and earlier nodes). */
  bootstrap: string[]
  /** Mailbox relays (multiaddrs with /p2p/); none: direct delivery only. */
  relays: string[]
  mailboxTarget?: number
  mailboxPollMs?: number
}

/** A profile store in memory (the profile's own salt and keys drawn from `rng`). */
async function memoryProfile(rng: Rng) {
  return createProfileStore(await openStore({ kind: 'memory' }), 'simulated profile', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true,
    random: (n: number) => rng.bytes(n)
  })
}

// The messenger keeps its libp2p key under this key of the `meta` namespace (records.ts of @parley/messenger); the
// simulator puts a seeded one there first. test/nodes.node.test.ts checks that the peer id follows.
const META_NETWORK_KEY = 'network-key'

/** Starts one messenger on the fabric as node `index`; keys follow from `rng`. */
export async function spawnMessenger(
  settings: NodeSettings,
  index: number,
  rng: Rng,
  options: SpawnOptions,
  existing?: { store: SimProfile; backend: CryptoBackend }
): Promise<SpawnedNode> {
  try {
    let store = existing?.store
    let backend = existing?.backend
    if (store === undefined || backend === undefined) {
      store = await memoryProfile(rng.fork('profile'))
      const key = await peerKeyOf(rng)
      await store.put('meta', META_NETWORK_KEY, privateKeyToProtobuf(key))
      backend = deterministicBackend(defaultBackend, rng.fork('crypto').bytes(32))
    }
    let node: Libp2p<ParleyServices> | undefined
    const messenger = await createMessenger({
      store,
      backend,
      libp2p: simLibp2pFactory(settings, index, (n) => (node = n)),
      courier: simCourier(settings, index),
      network: {
        protocolPrefix: settings.protocolPrefix,
        kBucketSize: settings.kBucketSize,
        // /memory addresses are neither private nor public IPs: kad-dht's default mapper (public scope) keeps them.
        addressScope: 'public',
        bootstrap: options.bootstrap,
        // Every /memory address falls in one "range" for the per-range caps (which guard real nodes against one host
        // filling a routing table): in the simulator each node is its own host, so the caps are lifted.
        rangeLimits: { maxInboundConnectionsPerRange: SIM_RANGE_LIMIT },
        routingLimits: { maxRoutingPeersPerRange: SIM_RANGE_LIMIT, maxRoutingPeersPerRangePerBucket: SIM_RANGE_LIMIT },
        dhtTimers:
          settings.converged === true
            ? {
                querySelfInterval: CONVERGED_MAINTENANCE_OFF_MS,
                initialQuerySelfInterval: CONVERGED_MAINTENANCE_OFF_MS
              }
            : { querySelfInterval: SIM_QUERY_SELF_INTERVAL_MS }
      },
      mailbox: {
        relays: options.relays,
        target: options.mailboxTarget ?? Math.min(2, options.relays.length),
        ...(options.mailboxPollMs !== undefined && { pollIntervalMs: options.mailboxPollMs })
      }
    })
    if (node === undefined)
      throw new NodeStartFailedError(`node ${index}`, new Error('the libp2p factory was not called'))
    const identity = Buffer.from(messenger.identityKey).toString('hex')
    return { index, messenger, libp2p: node, identity, store, backend }
  } catch (e) {
    throw new NodeStartFailedError(`node ${index}`, e)
  }
}

/** A relay on the fabric. */
export interface SimRelay {
  readonly index: number
  readonly relay: Relay
  readonly address: string
}

/** Starts a relay (createRelay from @parley/relay) on the fabric as node `index`; its key follows from `rng`. */
export async function spawnRelay(
  settings: NodeSettings,
  index: number,
  rng: Rng,
  dataDir: string,
  bootstrap: string[]
): Promise<SimRelay> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const key = await generateKeyPairFromSeed('Ed25519', rng.fork('peer').bytes(32))
    await writeFile(join(dataDir, PRIVATE_KEY_FILE), privateKeyToProtobuf(key), { mode: 0o600 })
    const relay = await createRelay({
      dataDir,
      listen: [settings.fabric.address(index)],
      transports: [simTransport(settings.fabric, index)],
      bootstrap,
      http: false,
      protocolPrefix: settings.protocolPrefix,
      dhtAddressScope: 'public',
      datastore: new MemoryDatastore(),
      maxConnections: 10 * SIM_MAX_CONNECTIONS,
      maxIncomingPendingConnections: SIM_MAX_INCOMING_PENDING,
      maxReservations: SIM_MAX_CONNECTIONS,
      maxInboundConnectionsPerRange: SIM_RANGE_LIMIT,
      maxReservationsPerRange: SIM_RANGE_LIMIT,
      dhtRoutingLimits: { maxRoutingPeersPerRange: SIM_RANGE_LIMIT, maxRoutingPeersPerRangePerBucket: SIM_RANGE_LIMIT },
      logLevel: 'silent',
      backend: deterministicBackend(defaultBackend, rng.fork('crypto').bytes(32))
    })
    const address = `${settings.fabric.address(index)}/p2p/${relay.peerId.toString()}`
    return { index, relay, address }
  } catch (e) {
    throw new NodeStartFailedError(`relay ${index}`, e)
  }
}
