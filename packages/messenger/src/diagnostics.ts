/**
 * What `messenger.diagnostics()` reports, for a panel no other messenger has: per relay whether we are connected,
 * hold a circuit reservation and keep our mailbox there; per contact how we are connected to its device now (direct
 * WebRTC, another direct transport, a relay's circuit, or not at all), the path of the last successful delivery, and
 * why it is unreachable when it is. Deliveries and failures are tracked in memory only (never stored), bounded by
 * MAX_DIAGNOSTICS_CONTACTS. Reasons are short texts for people: they never carry keys, peer ids or message data.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { bestConnection, connectionKind, isNetworkError } from '@parley/network'
import { MAX_DIAGNOSTICS_CONTACTS, MAX_UNREACHABLE_REASON_CHARS } from './constants.ts'
import type { Core } from './core.ts'

/** One relay (a bootstrap peer or a mailbox relay) as seen from this node. */
export interface RelayDiagnostics {
  /** The multiaddr we know it by (with /p2p/). */
  address: string
  /** Its peer id (a relay's public network identity). */
  peerId: string
  /** An open connection to it. */
  connected: boolean
  /** We hold a circuit reservation there (others can reach us through it). */
  reservation: boolean
  /** We keep our mailbox there now. */
  mailbox: boolean
}

/** How we reach a contact's device now. */
export type ContactConnection = 'direct-webrtc' | 'direct' | 'relayed' | 'none'

/** One contact as seen from this node. */
export interface ContactDiagnostics {
  /** The contact id the messenger uses everywhere (hex identity key). */
  identity: string
  /** The name we gave it ('' when none). */
  name: string
  /** The best open connection to its device: unlimited before relayed, WebRTC before other direct ones. */
  connection: ContactConnection
  /** The path of the last message it acknowledged or a relay stored for it, since this messenger started. */
  lastDelivery?: { via: 'direct' | 'relayed' | 'mailbox'; at: number }
  /** Why the last attempt could not reach its device ("no record in the DHT", "dial failed: …"), while it holds. */
  unreachable?: string
}

/** Everything `messenger.diagnostics()` returns. */
export interface Diagnostics {
  relays: RelayDiagnostics[]
  contacts: ContactDiagnostics[]
}

/** Sets `key` to `value` as the newest entry of `map`, dropping the oldest past `max`. */
function putBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value!)
}

/** A short reason for people from a failed attempt to reach a device. */
export function unreachableReason(e: unknown): string {
  if (isNetworkError(e, 'ContactNotFound')) return 'no record in the DHT'
  const err = e instanceof Error ? e : undefined
  const name = err?.name ?? ''
  const known: Record<string, string> = {
    NoValidAddressesError: 'no address we can dial',
    DialDeniedError: 'no address we may dial (all refused by the dial gate)',
    TimeoutError: 'timed out',
    AbortError: 'timed out',
    UnsupportedProtocolError: 'the device does not speak this protocol',
    ConnectionClosedError: 'the connection closed',
    MuxerClosedError: 'the connection closed',
    EncryptionFailedError: 'the handshake failed',
    UnexpectedPeerError: 'another device answered at its address'
  }
  return `dial failed: ${known[name] ?? withoutPeerIds(err?.message ?? String(e))}`.slice(
    0,
    MAX_UNREACHABLE_REASON_CHARS
  )
}

/** `text` with peer ids (public keys, base58) elided: a reason names what failed, not whose device. */
function withoutPeerIds(text: string): string {
  return text.replace(/\b(?:12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]{20,}/g, '…')
}

/** The peer id in a multiaddr's last /p2p/ component. */
function peerOf(address: Multiaddr): PeerId | undefined {
  const id = address
    .getComponents()
    .filter((c) => c.name === 'p2p')
    .at(-1)?.value
  return id === undefined ? undefined : peerIdFromString(id)
}

/** Whether one of our own addresses is a circuit through `relay` (`…/p2p/<relay>/p2p-circuit…`): a reservation. */
function reservedAt(own: readonly Multiaddr[], relay: string): boolean {
  return own.some((a) => {
    const c = a.getComponents()
    return c.some((x, i) => x.name === 'p2p' && x.value === relay && c[i + 1]?.name === 'p2p-circuit')
  })
}

export class DeliveryPaths {
  readonly #core: Core
  readonly #last = new Map<string, { via: 'direct' | 'relayed' | 'mailbox'; at: number }>()
  readonly #unreachable = new Map<string, string>()

  constructor(core: Core) {
    this.#core = core
  }

  /** A delivery to the contact succeeded by this path (`relays` for the mailbox). */
  delivered(identity: string, via: 'direct' | 'relayed' | 'mailbox'): void {
    putBounded(this.#last, identity, { via, at: this.#core.now() }, MAX_DIAGNOSTICS_CONTACTS)
    if (via !== 'mailbox') this.#unreachable.delete(identity)
  }

  /** The contact's device could not be reached (the error of the lookup or the dial). */
  unreachable(identity: string, e: unknown): void {
    putBounded(this.#unreachable, identity, unreachableReason(e), MAX_DIAGNOSTICS_CONTACTS)
  }

  /** The report (see Diagnostics). */
  async report(): Promise<Diagnostics> {
    const core = this.#core
    const node = core.node
    const own = node?.getMultiaddrs() ?? []
    const mailboxPeers = new Set(
      core.mailboxes.mailboxes.map((a) => peerOf(multiaddr(a))?.toString()).filter((p) => p !== undefined)
    )
    const relays: RelayDiagnostics[] = []
    const seen = new Set<string>()
    for (const address of [
      ...(core.networkOptions.bootstrap ?? []),
      ...core.mailboxOptions.relays,
      ...core.mailboxes.mailboxes
    ]) {
      let peer: PeerId | undefined
      try {
        peer = peerOf(multiaddr(address))
      } catch {
        continue
      }
      if (peer === undefined || seen.has(peer.toString())) continue
      seen.add(peer.toString())
      const id = peer.toString()
      relays.push({
        address,
        peerId: id,
        connected: node?.getConnections(peer).some((c) => c.status === 'open') ?? false,
        reservation: reservedAt(own, id),
        mailbox: mailboxPeers.has(id)
      })
    }
    const contacts: ContactDiagnostics[] = []
    for (const c of await core.contacts.contacts()) {
      const device = await core.peers.device(c.identity)
      let connection: ContactConnection = 'none'
      let upgradeFailure: string | undefined
      if (node !== undefined && device !== undefined) {
        const peer = core.peers.peerIdOf(device.deviceKey)
        const best = bestConnection(node, peer)
        if (best !== undefined) connection = connectionKind(best)
        if (connection === 'relayed') upgradeFailure = core.direct.failure(peer)
      }
      const last = this.#last.get(c.identity)
      const unreachable =
        this.#unreachable.get(c.identity) ??
        (upgradeFailure === undefined
          ? undefined
          : `relayed only: ${withoutPeerIds(upgradeFailure)}`.slice(0, MAX_UNREACHABLE_REASON_CHARS))
      contacts.push({
        identity: c.identity,
        name: c.name ?? '',
        connection,
        ...(last !== undefined && { lastDelivery: { ...last } }),
        ...(unreachable !== undefined && connection !== 'direct-webrtc' && connection !== 'direct' && { unreachable })
      })
    }
    return { relays, contacts }
  }
}
