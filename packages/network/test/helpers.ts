/** Test fixtures for @parley/network: real libp2p nodes over loopback, playing hosts in different /24s of 127.0.0.0/8. */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import {
  type CryptoBackend,
  createAccount,
  defaultBackend,
  encodeBundle,
  generateIdentity,
  publishBundle
} from '@parley/crypto'
import { dhtKeyForIdentity, encodeDhtRecord, signDhtRecord } from '@parley/wire'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createNodeLibp2p, type NetworkOptions, type ParleyServices, tcpFrom } from '../src/index.ts'

export const backend: CryptoBackend = defaultBackend

/** Everything a test started; `stopAll()` in afterEach/afterAll stops it. */
const started: Array<{ stop(): unknown }> = []
export async function stopAll(): Promise<void> {
  for (const s of started.splice(0).reverse()) await Promise.resolve(s.stop()).catch(() => {})
}

/** How long a network test waits (with `until` from @parley/test-kit) for a connection, reservation or record, ms. */
export const WAIT_MS = 20_000

/** A Parley node (the Node preset) listening and dialing on `ip` (a host of its own /24 on loopback), started. */
export async function parleyNode(
  ip: string,
  options: NetworkOptions = {},
  key?: PrivateKey
): Promise<Libp2p<ParleyServices>> {
  const node = await createNodeLibp2p(key ?? (await generateKeyPair('Ed25519')), backend, {
    listen: [`/ip4/${ip}/tcp/0`],
    dialFrom: ip,
    ...options
  })
  await node.start()
  started.push(node)
  return node
}

/** A bare libp2p node (TCP from `ip`, Noise, Yamux, no services): a host that only opens connections. */
export async function bareNode(ip: string, extra: Parameters<typeof createLibp2p>[0] = {}): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    transports: [tcpFrom(ip)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 10_000 },
    ...extra
  })
  await node.start()
  started.push(node)
  return node
}

/** A genuine signed Parley DHT record of a fresh identity whose device key is `device` (fresh when omitted). */
export async function signedRecord(
  options: { device?: PrivateKey; expiresAt?: number; now?: number } = {}
): Promise<{ key: Uint8Array; value: Uint8Array; identityKey: Uint8Array }> {
  const now = options.now ?? Date.now()
  const identity = await generateIdentity(backend)
  const device = options.device ?? (await generateKeyPair('Ed25519'))
  const account = await createAccount(backend, {
    identity,
    deviceKey: publicKeyToProtobuf(device.publicKey),
    now,
    certificateLifetimeMs: 365 * 24 * 3600_000
  })
  const { bundle } = await publishBundle(backend, account, now, 7 * 24 * 3600_000)
  const record = await signDhtRecord(backend, identity, {
    bundle: encodeBundle(bundle),
    addresses: [],
    mailboxRelays: [],
    sequence: bundle.sequence,
    expiresAt: options.expiresAt ?? now + 40 * 60_000
  })
  return { key: dhtKeyForIdentity(identity.publicKey), value: encodeDhtRecord(record), identityKey: identity.publicKey }
}
