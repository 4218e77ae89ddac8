/**
 * The messenger engine's front: one libp2p node, one encrypted profile, the E2EE session manager, and capability
 * modules with one job each (core.ts holds what they share; assemble.ts builds them, lifecycle.ts starts and stops
 * them):
 *
 * - contacts.ts — contacts, safety-number changes, message requests, history
 * - outbox.ts — send() and control messages queued in order; outbox-delivery.ts — one attempt over the session
 *   stream or to mailbox relays; outbox-retry.ts — retry rounds
 * - receipts.ts — delivered and read receipts, deposit tokens
 * - inbound.ts — the prekey, session-stream and DM protocols; decrypt and durable commit
 * - announcements.ts — events, receipts and resends once a received message is durable, in each sender's order
 * - resends.ts — gaps and undecryptable mail asked for again; resends from our history; dedup pruning
 * - peers.ts — reaching a contact's device; starting sessions
 * - publishing.ts — our DHT record, prekey rotation, certificate renewal, lookups
 * - mailbox-rounds.ts — keeping our mailboxes at relays (with mailbox-owner.ts)
 *
 * Data flow of one message: compose → history entry (pending) → ratchet encrypt, committed with the session update
 * and the exact ciphertext in the outbox (one batch) → a frame on the peer's session stream when it is reachable,
 * else a deposit at its mailbox relays, else retried with backoff → the recipient decrypts and commits plaintext,
 * dedup id and session in one durable batch BEFORE it acknowledges → the Ack marks the message delivered (mail gets an
 * end-to-end encrypted delivered receipt instead) → a read receipt when shown. Retries and duplicates never show a
 * message twice.
 */
import type { Connection, PeerId } from '@libp2p/interface'
import { deviceAddress, fromHex, needsSessionReset, safetyNumber, toHex } from '@parley/crypto'
import type { FoundRecord } from '@parley/network'
import { encodeInvite } from '@parley/wire'
import { assemble, type MessengerOptions } from './assemble.ts'
import type { Core, SendResult } from './core.ts'
import type { Diagnostics } from './diagnostics.ts'
import type { Groups } from './groups/manager.ts'
import { startCore, stopCore } from './lifecycle.ts'
import type { ContactRecord, HistoryRecord } from './records.ts'
import type { MessageRequest, RequestLimits } from './requests.ts'
import type { CallSignals, Signals } from './signals.ts'

export type { MessengerOptions } from './assemble.ts'
export type { SendResult } from './core.ts'

/** Creates and starts a messenger over an opened profile (`options.libp2p` required: see the package entries). */
export async function startMessenger(options: MessengerOptions): Promise<Messenger> {
  const m = new Messenger(options)
  await m.start()
  return m
}

export class Messenger {
  readonly #core: Core
  readonly #signals: Signals

  constructor(options: MessengerOptions) {
    const { core, signals } = assemble(options)
    this.#core = core
    this.#signals = signals
  }

  /** Call signalling to contacts (E2EE, in order, never stored): received ones arrive as `call-signal` events. */
  get signals(): CallSignals {
    return this.#signals
  }

  /** MLS groups (RFC 9420, X-Wing suite) over gossipsub: create, invite, send, history, leave (see docs/groups.md). */
  get groups(): Groups {
    return this.#core.groups as Groups
  }

  /** The events this messenger emits (see MessengerEvents). */
  get events(): Core['events'] {
    return this.#core.events
  }

  // ---------------------------------------------------------------- identity and lifecycle

  /** This user's identity key. */
  get identityKey(): Uint8Array {
    return this.#core.identityKey
  }

  /** This device's libp2p peer id. */
  get peerId(): PeerId {
    return this.#core.peerId
  }

  /** Addresses others can dial this node at (none when offline). */
  get addresses(): string[] {
    return this.#core.node?.getMultiaddrs().map((a) => a.toString()) ?? []
  }

  /** Open connections to a peer (diagnostics: `limits` is set on relayed ones). */
  connectionsTo(peer: PeerId): Connection[] {
    return this.#core.node?.getConnections(peer) ?? []
  }

  /** Whether this messenger runs a network node. */
  get online(): boolean {
    return this.#core.online
  }

  /** Our own half of safety numbers: 60 digits shared with a contact are computed with `safetyNumber(contact)`. */
  async fingerprint(): Promise<string> {
    return (await safetyNumber(this.#core.backend, this.identityKey, this.identityKey)).display.slice(0, 35)
  }

  /** Undelivered texts waiting in the outbox. */
  get queued(): number {
    return this.#core.outbox.schedule.texts
  }

  /** Control messages (receipts, deposit tokens, resend requests) waiting in the outbox. */
  get queuedControl(): number {
    return this.#core.outbox.schedule.controls
  }

  /** The relays we keep our mailbox at now (multiaddrs with /p2p/). */
  get mailboxes(): readonly string[] {
    return this.#core.mailboxes.mailboxes
  }

  /** Opens the account and, unless offline, starts the node and the background loops (lifecycle.ts). */
  start(): Promise<void> {
    return startCore(this.#core)
  }

  /** Stops the loops, the session streams, groups and the node. */
  stop(): Promise<void> {
    return stopCore(this.#core)
  }

  /** An invite link others can add us with (with our current addresses when online). */
  invite(name?: string): string {
    return encodeInvite({
      identityKey: this.identityKey,
      addresses: this.#core.node?.getMultiaddrs().map((a) => a.bytes) ?? [],
      relays: [],
      ...(name !== undefined && { name })
    })
  }

  /** The current session with a contact's device (hex session id), if any: for diagnostics and tests. */
  async sessionWith(contact: string): Promise<{ sessionId: string; acknowledged: boolean } | undefined> {
    const c = await this.#core.contacts.contact(contact)
    const d = await this.#core.peers.device(c.identity)
    if (d === undefined) return undefined
    const info = await this.#core.manager.sessionInfo(deviceAddress(fromHex(c.identity), fromHex(d.deviceKey)))
    return info && { sessionId: toHex(info.sessionId), acknowledged: info.acknowledged }
  }

  /**
   * What the diagnostics panel shows: per relay the connection, the reservation and whether our mailbox is there; per
   * contact the connection kind now (direct WebRTC, direct, relayed, none), the last successful delivery path since
   * start, and why its device is unreachable.
   */
  diagnostics(): Promise<Diagnostics> {
    return this.#core.paths.report()
  }

  /** The safety number with a contact. */
  async safetyNumber(contact: string): Promise<string> {
    const c = await this.#core.contacts.contact(contact)
    return (await safetyNumber(this.#core.backend, this.identityKey, fromHex(c.identity))).display
  }

  // ---------------------------------------------------------------- the DHT and mailboxes

  /** Publishes (or refreshes) our record in the DHT: signed bundle, device addresses, mailbox relays. */
  publish(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#core.publisher.publish(options)
  }

  /** Finds a contact's current record in the DHT (validated; the newest sequence wins). */
  lookup(identity: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<FoundRecord> {
    return this.#core.publisher.lookup(identity, options)
  }

  /** Drains our mailboxes now and refreshes registrations and prekey batches (also runs on a timer). */
  checkMailboxes(): Promise<void> {
    return this.#core.mailboxes.checkMailboxes()
  }

  // ---------------------------------------------------------------- contacts and requests

  /** Every contact. */
  contacts(): Promise<ContactRecord[]> {
    return this.#core.contacts.contacts()
  }

  /**
   * Adds a contact by identity key (hex) or invite link. A new identity under the name of an existing contact is a
   * safety-number change: the contact is marked `identity-changed`, `identity-changed` is emitted and nothing is
   * sent to it until acceptIdentity(). Adding the sender of a message request accepts it.
   */
  addContact(input: string, options: { name?: string } = {}): Promise<ContactRecord> {
    return this.#core.contacts.addContact(input, options)
  }

  /** Accepts a contact's new identity after a safety-number change: the contact now is that identity. */
  acceptIdentity(contact: string): Promise<ContactRecord> {
    return this.#core.contacts.acceptIdentity(contact)
  }

  /** Message requests: identities we have not added that wrote to us (bounded; see requests.ts). */
  requests(): Promise<MessageRequest[]> {
    return this.#core.contacts.requests()
  }

  /** Accepts a message request: the sender becomes a contact, and its messages get their delivered receipts. */
  acceptRequest(identity: string, options: { name?: string } = {}): Promise<ContactRecord> {
    return this.#core.contacts.acceptRequest(identity, options)
  }

  /** Declines a message request: its messages, dedup ids, device and sessions are deleted. */
  declineRequest(identity: string): Promise<boolean> {
    return this.#core.contacts.declineRequest(identity)
  }

  /** A contact's conversation, in order (per-sender sequence, then time). */
  history(contact: string): Promise<HistoryRecord[]> {
    return this.#core.contacts.history(contact)
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a text; resolves once it is durably queued and, if the peer was reachable, stored there. Replying to a
   * message request accepts it.
   */
  send(contact: string, text: string, options: { signal?: AbortSignal } = {}): Promise<SendResult> {
    return this.#core.outbox.send(contact, text, options)
  }

  /** Tells a contact we are typing (never queued or stored; false when it could not be told now). */
  typing(contact: string, active: boolean): Promise<boolean> {
    return this.#core.receipts.typing(contact, active)
  }

  /** Tells the contact these messages were read (an end-to-end encrypted read receipt). */
  markRead(contact: string, ids: string[]): Promise<void> {
    return this.#core.receipts.markRead(contact, ids)
  }

  /** Retries every queued message now (e.g. after the network came back). */
  flush(): Promise<void> {
    return this.#core.outbox.flush()
  }

  /** Prunes dedup ids older than the retention (also runs daily); returns how many went. */
  pruneSeen(): Promise<number> {
    return this.#core.resends.pruneSeen()
  }

  /** Whether a stored error should make us start a fresh session (exposed for tests and the CLI). */
  static needsReset(e: unknown): boolean {
    return needsSessionReset(e)
  }
}

export type { RequestLimits }
