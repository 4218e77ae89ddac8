/**
 * Reaching a contact's device: its record (stored, or looked up in the DHT), dialling it (over a relayed connection
 * when that is all there is), and starting a session from a bundle the device or its mailbox relays hand out.
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodePrekeyBundle, deviceAddress, fromHex, type PrekeyBundle, toHex } from '@parley/crypto'
import { takePrekeysAtRelays } from '@parley/network'
import { decodePrekeyResponse, encodePrekeyRequest, MAX_PREKEY_RESPONSE_BYTES } from '@parley/wire'
import { MAX_DEPOSIT_RELAYS } from './constants.ts'
import { type Core, log } from './core.ts'
import { PeerProtocolError } from './errors.ts'
import { bindDevice, boundIdentity, type ContactRecord, type DeviceRecord, putDeviceOf, readDevice } from './records.ts'

export class Peers {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  device(identity: string): Promise<DeviceRecord | undefined> {
    return readDevice(this.core.store, identity)
  }

  /** The device address of a contact's current device, from its stored record or a DHT lookup. */
  async resolve(c: ContactRecord, options: { signal?: AbortSignal; fresh?: boolean }) {
    const known = options.fresh ? undefined : await this.device(c.identity)
    if (known !== undefined) {
      const deviceKey = fromHex(known.deviceKey)
      const peerId = peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey))
      return { peerId, deviceKey, addresses: [...known.addresses, ...c.addresses].map((a) => multiaddr(a)) }
    }
    const found = await this.core.publisher.lookup(fromHex(c.identity), options)
    // A replayed older record (lower sequence) never replaces what we learnt from a newer one.
    const stored = await this.device(c.identity)
    if (stored?.sequence !== undefined && stored.sequence > found.record.sequence) {
      const deviceKey = fromHex(stored.deviceKey)
      return {
        peerId: peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey)),
        deviceKey,
        addresses: stored.addresses.map((a) => multiaddr(a))
      }
    }
    const b = this.core.store.batch()
    const deviceHex = toHex(found.deviceKey)
    putDeviceOf(
      b,
      c.identity,
      deviceHex,
      found.addresses.map((a) => a.toString()),
      {
        sequence: found.record.sequence,
        relays: found.relays,
        agreementKey: toHex(found.bundle.certificate.agreementKey)
      }
    )
    // A contact's signed record binds a device bound to nobody yet; it never takes one over from another identity
    // (anyone may certify a public device key under their own identity and publish that).
    if ((await boundIdentity(this.core.store, deviceHex)) === undefined) bindDevice(b, deviceHex, c.identity)
    await b.commit()
    return found
  }

  /** The peer id of a device (its libp2p key) from the hex device key in its record. */
  peerIdOf(deviceKeyHex: string): PeerId {
    return peerIdFromPublicKey(publicKeyFromProtobuf(fromHex(deviceKeyHex)))
  }

  async dial(
    peerId: PeerId,
    addresses: ReturnType<typeof multiaddr>[],
    protocol: string,
    signal: AbortSignal
  ): Promise<Stream> {
    const node = this.core.libp2p
    // An open connection first: a direct one, or — with only relayed ones — the direct WebRTC connection an upgrade
    // opens within DIRECT_WAIT_MS (direct.ts), else a relayed one. libp2p itself never reuses a limited connection for
    // a new dial: it dials the peer's own addresses, which a browser cannot reach (no TCP, private ws:// gated).
    const best = await this.core.direct.connectionFor(peerId, signal)
    const open = node.getConnections(peerId).filter((c) => c.status === 'open' && c !== best)
    for (const c of best === undefined ? open : [best, ...open]) {
      try {
        return await c.newStream(protocol, { signal, runOnLimitedConnection: true })
      } catch (e) {
        log('stream on an open connection failed: %s', (e as Error).message)
      }
    }
    if (addresses.length > 0) await node.peerStore.merge(peerId, { multiaddrs: addresses })
    return node.dialProtocol(peerId, protocol, { signal, runOnLimitedConnection: true })
  }

  /**
   * Starts a session with the contact's device: a prekey bundle with one-time prekeys from the device itself, or, when
   * the device cannot be reached, the bundle from its DHT record with one-time prekeys its mailbox relays hand out.
   */
  async startSession(c: ContactRecord, signal: AbortSignal): Promise<string> {
    const target = await this.resolve(c, { signal })
    let prekeyBundle: PrekeyBundle
    let stream: Stream | undefined
    try {
      stream = await this.dial(target.peerId, target.addresses, this.core.ids.prekeys, signal)
    } catch (e) {
      const viaRelays = await this.bundleViaMailboxes(c, signal)
      if (viaRelays === undefined) {
        this.core.paths.unreachable(c.identity, e)
        throw e
      }
      prekeyBundle = viaRelays
    }
    if (stream !== undefined) {
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_PREKEY_RESPONSE_BYTES })
        await lp.write(encodePrekeyRequest({ identityKey: fromHex(c.identity) }), { signal })
        const response = decodePrekeyResponse((await lp.read({ signal })).subarray())
        await stream.close({ signal })
        if (response.status !== 'ok') throw new PeerProtocolError('prekeys', response.errorCode)
        prekeyBundle = decodePrekeyBundle(response.prekeyBundle)
      } catch (e) {
        stream.abort(e instanceof Error ? e : new Error(String(e)))
        throw e
      }
    }
    return await this.core.manager.startSession(prekeyBundle!, { expectedIdentity: fromHex(c.identity) })
  }

  /**
   * The bundle of an unreachable contact: from its DHT record (fresh lookup), with one one-time prekey of each kind
   * from the first of its mailbox relays that still has some (asked from a courier, so the relay cannot tell who is
   * starting a session with whom). Without any, the bundle alone still makes a session (signed and last-resort
   * prekeys). Undefined when the contact lists no mailbox relays: then it must be online to be reached.
   */
  async bundleViaMailboxes(c: ContactRecord, signal: AbortSignal): Promise<PrekeyBundle | undefined> {
    const found = await this.resolve(c, { signal, fresh: true })
    if (!('bundle' in found) || found.relays.length === 0 || this.core.courierFactory === undefined) return undefined
    const owner = fromHex(c.identity)
    const relays = found.relays.slice(0, MAX_DEPOSIT_RELAYS)
    const taken = await takePrekeysAtRelays(this.core.courierFactory, this.core.ids.mailbox, relays, owner, signal, log)
    const x = taken.find((p) => p.kind === 'x25519')
    const k = taken.find((p) => p.kind === 'kem')
    return { bundle: found.bundle, ...(x && { oneTimePrekey: x }), ...(k && { oneTimeKemPrekey: k }) }
  }

  /** The address of the session we would use with a contact now, if there is one. */
  async currentAddress(c: ContactRecord): Promise<string | undefined> {
    const d = await this.device(c.identity)
    if (d === undefined) return undefined
    const address = deviceAddress(fromHex(c.identity), fromHex(d.deviceKey))
    return (await this.core.manager.sessionInfo(address)) === undefined ? undefined : address
  }
}
