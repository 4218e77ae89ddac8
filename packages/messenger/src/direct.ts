/**
 * Direct connections first. A contact's device we reach only through a relay's circuit (a limited connection: the
 * relay caps its bytes and lifetime, and sees its timing) is upgraded to a direct WebRTC connection signalled over
 * that circuit; chat never runs over a relayed connection when a direct one exists:
 *
 * - a new session stream waits up to DIRECT_WAIT_MS for an upgrade in flight, then goes on the best connection;
 * - a session stream on a relayed connection moves to the direct one as soon as that opens (session-stream.ts
 *   retires it: frames in flight finish there, new ones go direct);
 * - a relayed connection we open to a contact starts an upgrade at once; a failed one is tried again after
 *   DIRECT_RETRY_MS, doubling up to DIRECT_RETRY_MAX_MS, for as long as only relayed connections to the peer are
 *   open (a WebRTC dial can fail for a while — a NAT, a busy machine — and succeed later; meanwhile the relayed
 *   connection and the mailbox still work).
 *
 * WebRTC only with contacts' devices, both ways (`admits`, or `network.webrtcGate` when given): whoever signals
 * with us learns our IP addresses from the ICE candidates, and a stranger who reaches our relay circuit must not. A
 * message request stays on the circuit until it is accepted.
 *
 * Connections are classified by libp2p's `limits` and multiplexer (@parley/network's connectionKind), never by their
 * address text: the direct one's address still contains `p2p-circuit`.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Connection, PeerId } from '@libp2p/interface'
import { toHex } from '@parley/crypto'
import { bestConnection, connectionKind, DIRECT_UPGRADE_TIMEOUT_MS, upgradeToDirect } from '@parley/network'
import { DIRECT_RETRY_MAX_MS, DIRECT_RETRY_MS, DIRECT_WAIT_MS, MAX_DIRECT_FAILURES_TRACKED } from './constants.ts'
import { type Core, log } from './core.ts'
import type { MessengerEvents } from './events.ts'
import { boundIdentity } from './records.ts'

export class DirectPaths {
  readonly #core: Core
  /** Upgrades in flight, by peer id: one at a time per peer. */
  readonly #upgrading = new Map<string, Promise<Connection | undefined>>()
  /** When and why the last upgrade to a peer failed, and the wait before the next (bounded: the oldest goes first). */
  readonly #failed = new Map<string, { at: number; reason: string; wait: number }>()

  constructor(core: Core) {
    this.#core = core
  }

  /**
   * Hooks the node's connection events (upgrades for new relayed connections, stream moves for new direct ones) and
   * the messenger's: a contact's text that came over a circuit starts an upgrade from our side too (its device is
   * known by now, so our gate admits it; the sender's own first try may have come too early for that).
   */
  attach(): void {
    const node = this.#core.libp2p
    this.#core.events.listenInternally('message', (e) => {
      const { contact, request } = (e as CustomEvent<MessengerEvents['message']>).detail
      if (request === true) return
      void this.#core.peers
        .device(contact)
        .then((device) => {
          if (device === undefined) return
          const peer = this.#core.peers.peerIdOf(device.deviceKey)
          const best = bestConnection(node, peer)
          if (best !== undefined && connectionKind(best) === 'relayed') return this.upgrade(peer)
        })
        .catch(() => {})
    })
    node.addEventListener('connection:open', (e) => {
      const connection = e.detail
      if (connectionKind(connection) === 'relayed') {
        // A circuit we opened (to a contact, or for a prekey bundle): try to go direct at once. Inbound circuits are
        // upgraded by the peer that dialled them, or by our next send.
        if (connection.direction === 'outbound') void this.upgrade(connection.remotePeer)
        return
      }
      this.#failed.delete(connection.remotePeer.toString())
      void this.#core.outbox.streams
        .retire(connection.remotePeer, (stream) =>
          node
            .getConnections(connection.remotePeer)
            .some((c) => connectionKind(c) === 'relayed' && c.streams.includes(stream))
        )
        .then((moved) => {
          if (moved) log('session stream to %p moves to a direct connection', connection.remotePeer)
        })
    })
  }

  /**
   * An upgrade of the peer's relayed connection(s) to direct WebRTC: the running one if any, none while a recent one
   * failed, none to a peer that is not a contact's device (it would learn our IP addresses). Resolves the direct
   * connection, or undefined (never rejects).
   */
  upgrade(peer: PeerId): Promise<Connection | undefined> {
    const failed = this.#failed.get(peer.toString())
    if (failed !== undefined && this.#core.now() - failed.at < failed.wait) {
      return this.#upgrading.get(peer.toString()) ?? Promise.resolve(undefined)
    }
    return this.#attempt(peer)
  }

  /**
   * One upgrade attempt (or the one running), past the backoff: `upgrade` checks that, and the retry timer has
   * waited it out. The timer must not ask the clock again: a timer can fire a millisecond before `now()` says its
   * delay is over (Node's timers and `Date.now()` round differently), and a retry refused then was never scheduled
   * again: the peer stayed relayed-only until the next message.
   */
  #attempt(peer: PeerId): Promise<Connection | undefined> {
    if (this.#core.networkOptions.webrtc === false) return Promise.resolve(undefined)
    const key = peer.toString()
    const running = this.#upgrading.get(key)
    if (running !== undefined) return running
    const gate = this.#core.networkOptions.webrtcGate ?? ((p: PeerId) => this.admits(p))
    const attempt = Promise.resolve()
      .then(() => gate(peer))
      .then((allowed) => {
        if (!allowed) return undefined
        return upgradeToDirect(this.#core.libp2p, peer, { signal: this.#core.signal(DIRECT_UPGRADE_TIMEOUT_MS) })
      })
      .then((connection) => {
        this.#failed.delete(key)
        return connection
      })
      .catch((e: unknown) => {
        this.#noteFailure(peer, e instanceof Error ? e.message : String(e))
        log('no direct connection to %p: %s', peer, e instanceof Error ? e.message : e)
        return undefined
      })
      .finally(() => this.#upgrading.delete(key))
    this.#upgrading.set(key, attempt)
    return attempt
  }

  /**
   * The connection a new stream to `peer` should use: a direct one if open; else, with only relayed ones, an upgrade
   * (waiting at most DIRECT_WAIT_MS for it) and the relayed connection when it does not finish in time. Undefined when
   * no connection is open (the caller dials).
   */
  async connectionFor(peer: PeerId, signal: AbortSignal): Promise<Connection | undefined> {
    const node = this.#core.libp2p
    const best = bestConnection(node, peer)
    if (best === undefined || connectionKind(best) !== 'relayed') return best
    const upgrading = this.upgrade(peer)
    const enough = AbortSignal.any([signal, AbortSignal.timeout(DIRECT_WAIT_MS)])
    const waited = new Promise<undefined>((resolve) => {
      if (enough.aborted) resolve(undefined)
      enough.addEventListener('abort', () => resolve(undefined), { once: true })
    })
    return (await Promise.race([upgrading, waited])) ?? bestConnection(node, peer)
  }

  /** Whether `peer` is the device of one of our contacts (the only peers we open WebRTC signalling to). */
  async admits(peer: PeerId): Promise<boolean> {
    if (peer.publicKey === undefined) return false
    const identity = await boundIdentity(this.#core.store, toHex(publicKeyToProtobuf(peer.publicKey)))
    return identity !== undefined && (await this.#core.store.get('contacts', identity)) !== undefined
  }

  /** Why the last upgrade to `peer` failed, until one succeeds. */
  failure(peer: PeerId): string | undefined {
    return this.#failed.get(peer.toString())?.reason
  }

  #noteFailure(peer: PeerId, reason: string): void {
    const key = peer.toString()
    const previous = this.#failed.get(key)
    const wait = previous === undefined ? DIRECT_RETRY_MS : Math.min(previous.wait * 2, DIRECT_RETRY_MAX_MS)
    this.#failed.delete(key)
    this.#failed.set(key, { at: this.#core.now(), reason, wait })
    while (this.#failed.size > MAX_DIRECT_FAILURES_TRACKED) this.#failed.delete(this.#failed.keys().next().value!)
    // Try again once the wait is over, while the peer is still reachable only through a relay.
    this.#core.later(async () => {
      const node = this.#core.node
      if (node === undefined) return
      const best = bestConnection(node, peer)
      if (best !== undefined && connectionKind(best) === 'relayed') await this.#attempt(peer)
    }, wait)
  }
}
