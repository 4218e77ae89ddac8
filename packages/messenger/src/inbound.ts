/**
 * Receiving: the prekey, session-stream and single-DM protocols, decrypt and durable commit of what arrives (the
 * session manager commits through protocolStore(), which writes what a received payload changes in the same batch),
 * and what to do once it is durable (events, receipts, resends), mail announced per page in send order.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  encodePrekeyBundle,
  MESSAGE_TYPE_INITIAL,
  ParleyCryptoError,
  type ProtocolStore,
  takePrekeyBundle,
  toHex
} from '@parley/crypto'
import { sourceRange } from '@parley/network'
import { decodeEnvelope, decodePrekeyRequest, encodeAck, encodePrekeyResponse, MAX_ENVELOPE_BYTES } from '@parley/wire'
import {
  ANNOUNCED_FLUSH_MS,
  BUNDLE_LIFETIME_MS,
  DEFAULT_DIAL_TIMEOUT,
  MAX_CACHED_FLOORS,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER
} from './constants.ts'
import { type Core, type InboundSlot, log, type Via } from './core.ts'
import { cryptoStore } from './crypto-store.ts'
import { PeerProtocolError } from './errors.ts'
import type { ReceivedContext, ReceivedOutcome } from './received.ts'

type TextOutcome = Extract<ReceivedOutcome, { kind: 'text' }>

import {
  boundIdentity,
  decodeHistory,
  decodeSeen,
  deviceClaims,
  receivedKey,
  UNANNOUNCED,
  wasReceived
} from './records.ts'
import { enforceRequestBounds } from './requests.ts'
import { serveSessionFrames } from './session-serve.ts'

export class Inbound {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** Messages being received now, by hex id. */
  readonly receiving = new Map<string, Promise<Uint8Array>>()

  /** What a mailbox page delivered, announced when the page is done (announceDrained). */
  drained: ReceivedOutcome[] = []

  /** Per message being received: how it came, and what to do once its commit is durable (events, receipts). */
  readonly inbound = new Map<string, InboundSlot>()

  async onPrekeyStream(stream: Stream, connection: Connection): Promise<void> {
    const signal = this.core.signal(DEFAULT_DIAL_TIMEOUT)
    // One-time prekeys are a finite pool: a peer asking for many bundles gets refused (and cannot drain it).
    const range = sourceRange(connection.remoteAddr)
    if (
      !this.core.admit(`prekeys/${connection.remotePeer.toString()}`, MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER) ||
      !this.core.admit(`prekeys-range/${range}`, this.core.prekeysPerMinutePerRange)
    ) {
      stream.abort(new PeerProtocolError('prekeys', 'rate limited'))
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: 1024 })
      const req = decodePrekeyRequest((await lp.read({ signal })).subarray())
      if (toHex(req.identityKey) !== toHex(this.core.identityKey)) {
        await lp.write(encodePrekeyResponse({ status: 'error', errorCode: 'UnknownIdentity' }), { signal })
      } else {
        const pb = await this.core.manager.updateAccount(async (state) => {
          const t = await takePrekeyBundle(this.core.backend, state, this.core.now(), BUNDLE_LIFETIME_MS)
          return { state: t.state, result: t.prekeyBundle }
        })
        await lp.write(encodePrekeyResponse({ status: 'ok', prekeyBundle: encodePrekeyBundle(pb) }), { signal })
      }
      await stream.close({ signal })
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  /** An inbound session stream: frames handled concurrently, answered in order after their commits (session-serve.ts). */
  async onSessionStream(stream: Stream, connection: Connection): Promise<void> {
    const remoteKey = connection.remotePeer.publicKey
    if (remoteKey === undefined) {
      stream.abort(new PeerProtocolError('session', 'no device key'))
      return
    }
    const deviceKey = publicKeyToProtobuf(remoteKey)
    await serveSessionFrames(
      stream,
      async (frame) => {
        const envelope = decodeEnvelope(frame)
        if (!this.core.admit(connection.remotePeer.toString())) {
          // A flooding peer: a typed refusal, then it is cut off; the node keeps serving others.
          setTimeout(() => void connection.close().catch(() => {}), 100)
          return encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'RateLimited' })
        }
        return this.receiveOnce(envelope.messageId, () =>
          this.receive(envelope.messageId, envelope.ciphertext, { kind: 'direct', deviceKey, acked: true })
        )
      },
      this.core.shutdown.signal
    )
  }

  async onDmStream(stream: Stream, connection: Connection): Promise<void> {
    const signal = this.core.signal(DEFAULT_DIAL_TIMEOUT)
    const remoteKey = connection.remotePeer.publicKey
    if (!this.core.admit(connection.remotePeer.toString())) {
      // A misbehaving peer: a typed refusal, then the connection is closed. The node keeps serving others.
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
        const envelope = decodeEnvelope((await lp.read({ signal })).subarray())
        await lp.write(encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'RateLimited' }), {
          signal
        })
      } catch {
        // nothing more to say to it
      }
      stream.abort(new PeerProtocolError('dm', 'rate limited'))
      await connection.close().catch(() => {})
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
      const envelope = decodeEnvelope((await lp.read({ signal })).subarray())
      const ack = await this.receiveOnce(envelope.messageId, () =>
        remoteKey === undefined
          ? Promise.resolve(encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'NoSession' }))
          : this.receive(envelope.messageId, envelope.ciphertext, {
              kind: 'direct',
              deviceKey: publicKeyToProtobuf(remoteKey),
              acked: false
            })
      )
      await lp.write(ack, { signal })
      await stream.close({ signal })
    } catch (e) {
      // Malformed, oversized or unknown-version input: abort this stream; the node keeps serving others.
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  /**
   * Runs `receive` for a message id, one at a time. The same message may arrive twice at once (a retry racing the
   * first attempt, or copies from two mailbox relays): receives of one id run one after another (the chain is extended
   * in the same tick as it is read, with no await between), and each checks the dedup record of its sender first, so
   * the message is processed and shown once.
   */
  async receiveOnce(messageId: Uint8Array, receive: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const id = toHex(messageId)
    const previous = this.receiving.get(id) ?? Promise.resolve(encodeAck({ messageId, status: 'ok' }))
    const work = previous.catch(() => undefined).then(receive)
    this.receiving.set(id, work)
    try {
      return await work
    } finally {
      if (this.receiving.get(id) === work) this.receiving.delete(id)
    }
  }

  /**
   * Decrypts and durably stores one message; returns the ack to send. Who sent it: over a connection, the device key
   * the connection authenticated (an initial message names its identity inside, checked against that key; a ratchet
   * message is tried on the sessions of the identity the device is bound to, then of identities that claimed it
   * through a mailbox); through a mailbox, the sealed sender's claim (the ratchet proves it or the message fails).
   */
  async receive(messageId: Uint8Array, ciphertext: Uint8Array, via: Via): Promise<Uint8Array> {
    const id = toHex(messageId)
    // A message request's Ack says `held`: stored, and no more (not a delivery receipt) until it is accepted.
    const ok = (held: boolean) => encodeAck({ messageId, status: 'ok', ...(held && { held: true as const }) })
    const initial = ciphertext.length > 0 && (ciphertext[0]! & 0x0f) === MESSAGE_TYPE_INITIAL
    let identities: string[]
    let addresses: Array<string | undefined>
    if (via.kind === 'mailbox') {
      identities = via.claimed === undefined ? [] : [via.claimed.split('.')[0]!]
      addresses = [via.claimed]
    } else {
      const device = toHex(via.deviceKey)
      const bound = await boundIdentity(this.core.store, device)
      identities = [
        ...new Set([...(bound === undefined ? [] : [bound]), ...(await deviceClaims(this.core.store, device))])
      ]
      addresses = initial || identities.length === 0 ? [undefined] : identities.map((i) => `${i}.${device}`)
    }
    for (const identity of identities) {
      if (await wasReceived(this.core.store, identity, id)) {
        const held = (await this.core.store.get('contacts', identity)) === undefined
        // A copy of a text we stored (our Ack was lost, say, in a crash, and the sender deposited it): where no Ack
        // tells the sender, a delivered receipt does, or it would wait at `deposited` for ever.
        const acked = via.kind === 'direct' && via.acked
        if (!held && !acked && (await this.storedText(identity, id)))
          this.core.receipts.queueDeliveredReceipt(identity, id)
        return ok(held)
      }
    }
    let failure: unknown
    for (const address of addresses) {
      const context = { authenticated: via.kind === 'direct', acked: via.kind === 'direct' && via.acked }
      const slot: InboundSlot = { context, after: [], held: false }
      this.inbound.set(id, slot)
      try {
        await this.core.manager.decrypt(ciphertext, {
          messageId,
          ...(address !== undefined && { address }),
          ...(via.kind === 'direct' && { deviceKey: via.deviceKey })
        })
        for (const after of slot.after) after()
        return ok(slot.held)
      } catch (e) {
        failure = e
        // Not this identity's session: try the next one that could own the device.
        const code = e instanceof ParleyCryptoError ? e.code : undefined
        if (code !== 'NoSession' && code !== 'UndecryptableHeader') break
      } finally {
        this.inbound.delete(id)
      }
    }
    const code = failure instanceof ParleyCryptoError ? failure.code : 'Malformed'
    return encodeAck({ messageId, status: 'error', errorCode: code })
  }

  /** Announces what a mailbox page delivered: texts in each sender's order, then everything else as it came. */
  announceDrained(): void {
    const page = this.drained
    this.drained = []
    const seq = (o: ReceivedOutcome) => (o.kind === 'text' ? o.senderSeq : Number.MAX_SAFE_INTEGER)
    const sentAt = (o: ReceivedOutcome) => (o.kind === 'text' ? o.sentAt : 0)
    const ordered = [...page].sort((x, y) => {
      if (x.kind !== 'text' || y.kind !== 'text' || x.contact !== y.contact) return 0
      return seq(x) - seq(y) || sentAt(x) - sentAt(y)
    })
    for (const outcome of ordered) this.react(outcome)
  }

  /** What to do once a received message is durable: show it, send receipts back, give a deposit token. */
  react(outcome: ReceivedOutcome, context?: ReceivedContext): void {
    switch (outcome.kind) {
      case 'text': {
        const { contact, id, request } = outcome
        if (request) {
          this.announce(outcome)
          // No receipt, no token, no contact: a message request, within its bounds (the oldest dropped past them).
          void enforceRequestBounds(
            this.core.contacts.requestStore(),
            this.core.contacts.requestEffects,
            this.core.requestLimits,
            contact
          ).catch((e: Error) => log('bounding message requests failed: %s', e.message))
          return
        }
        this.inOrder(outcome)
        // Over the session stream our Ack is the delivery receipt; mail and single DM streams get an E2EE one.
        if (context?.acked !== true) this.core.receipts.queueDeliveredReceipt(contact, id)
        if (outcome.gap) {
          if (!this.core.resends.gaps.has(contact)) this.core.resends.gaps.set(contact, new Map())
        }
        void this.core.receipts
          .giveDepositToken(contact)
          .catch((e: Error) => log('giving a deposit token failed: %s', e.message))
        return
      }
      case 'resend':
        void this.core.resends
          .resendFor(outcome.contact, outcome.seqs, outcome.ids)
          .catch((e: Error) => log('resending failed: %s', e.message))
        return
      case 'receipt':
        this.core.events.emit('receipt', { contact: outcome.contact, type: outcome.type, ids: outcome.ids })
        return
      case 'typing':
        this.core.events.emit('typing', { contact: outcome.contact, active: outcome.active })
        return
      case 'call-signal':
        this.core.events.emit('call-signal', {
          contact: outcome.contact,
          signal: outcome.signal,
          sentAt: outcome.sentAt
        })
        return
      case 'group-control':
        void this.core.groups
          ?.onControl(outcome.contact, outcome.control)
          .catch((e: Error) => log('group control failed: %s', e.message))
        return
      case 'request-control':
      case 'none':
        return
    }
  }

  /** The crypto layer's persistence (crypto-store.ts): each commit is one profile batch, released once queued. */
  protocolStore(): ProtocolStore {
    return cryptoStore(this.core, {
      slot: (id) => this.inbound.get(id),
      // Mail is announced per page, in each sender's order (a relay may hand it out in any order).
      onDurable: (outcome, context, slot) =>
        slot !== undefined && !context.authenticated
          ? () => this.drained.push(outcome)
          : () => this.react(outcome, context)
    })
  }

  /** Announced texts whose markers are still to be deleted (in one batch, soon). */
  toForget: string[] = []

  /**
   * The `message` event for this text was emitted: its marker goes, with every other one announced within
   * ANNOUNCED_FLUSH_MS, in one write (a marker left by a crash in between means one more announcement, never none).
   */
  announced(contact: string, id: string): void {
    this.toForget.push(`${UNANNOUNCED}${contact}/${id}`)
    if (this.toForget.length > 1) return
    setTimeout(() => {
      const keys = this.toForget
      this.toForget = []
      const b = this.core.store.batch()
      for (const key of keys) b.delete('meta', key)
      // Relaxed (no fsync of its own): a marker a crash keeps means one more announcement, flagged as replayed.
      b.commit({ durability: 'relaxed' }).catch((e: Error) => log('forgetting announced markers failed: %s', e.message))
    }, ANNOUNCED_FLUSH_MS)
  }

  /** Whether message `id` from `identity` is a text in our history. */
  async storedText(identity: string, id: string): Promise<boolean> {
    const seen = await this.core.store.get('seen', receivedKey(identity, id))
    return seen !== undefined && decodeSeen(seen).history !== undefined
  }

  /** Markers a crash left (found at start): announced to the first `message` listener. */
  leftovers: string[] = []

  /** At start: the texts a previous run stored but never announced. */
  async loadLeftovers(): Promise<void> {
    for await (const { key } of this.core.store.query('meta', { prefix: UNANNOUNCED })) this.leftovers.push(key)
  }

  /**
   * Announces what a crash left stored but unannounced, in each sender's order, once: to the first `message`
   * listener (apps attach theirs right after start resolves).
   */
  async announcePending(): Promise<void> {
    const keys = this.leftovers
    this.leftovers = []
    const pending: Array<{ key: string; hkey: string }> = []
    for (const key of keys) {
      const value = await this.core.store.get('meta', key)
      if (value !== undefined) pending.push({ key, hkey: new TextDecoder().decode(value) })
    }
    pending.sort((x, y) => (x.hkey < y.hkey ? -1 : x.hkey > y.hkey ? 1 : 0))
    for (const { key, hkey } of pending) {
      const bytes = await this.core.store.get('history', hkey)
      if (bytes === undefined) {
        await this.core.store.delete('meta', key)
        continue
      }
      const h = decodeHistory(bytes)
      const request = (await this.core.store.get('contacts', h.contact)) === undefined
      const { contact, id, text, senderSeq, sentAt } = h
      this.core.events.emit('message', {
        contact,
        id,
        text,
        senderSeq,
        sentAt,
        replayed: true,
        ...(request && { request })
      })
      this.announced(contact, id)
    }
  }

  /** Per contact, the highest text-number floor seen in a commit (bounded; see inOrder). */
  readonly floors = new Map<string, number>()

  /** A contact's texts that arrived above a gap, held back until the gap fills (or for at most the grace period). */
  readonly heldBack = new Map<string, Array<{ outcome: TextOutcome; since: number }>>()

  /** Emits a text's `message` event and forgets its marker. */
  announce(outcome: TextOutcome): void {
    const { contact, id, text, senderSeq, sentAt, request } = outcome
    this.core.events.emit('message', { contact, id, text, senderSeq, sentAt, ...(request && { request }) })
    this.announced(contact, id)
  }

  /**
   * Shows a contact's texts in the order they were sent: one above a gap (a message still in a mailbox, or lost in a
   * crash and being resent) waits until the gap fills; at most `gapGraceMs`, after which it is shown anyway (see
   * releaseHeld). It is stored either way: only the announcement waits.
   */
  inOrder(outcome: TextOutcome): void {
    const held = this.heldBack.get(outcome.contact) ?? []
    // The floor as of the latest commit (announcements may come after several commits, e.g. a mailbox page).
    const next = Math.max(outcome.next, this.floors.get(outcome.contact) ?? 0)
    this.floors.set(outcome.contact, next)
    if (this.floors.size > MAX_CACHED_FLOORS) this.floors.delete(this.floors.keys().next().value!)
    if (outcome.senderSeq >= next) {
      held.push({ outcome, since: this.core.now() })
      this.heldBack.set(outcome.contact, held)
      return
    }
    this.announce(outcome)
    const ready = held.filter((h) => h.outcome.senderSeq < next)
    const rest = held.filter((h) => h.outcome.senderSeq >= next)
    for (const h of ready.sort((x, y) => x.outcome.senderSeq - y.outcome.senderSeq)) this.announce(h.outcome)
    if (rest.length === 0) this.heldBack.delete(outcome.contact)
    else this.heldBack.set(outcome.contact, rest)
  }

  /** Shows held texts older than the grace period, in order (the gap they wait on is being asked for, or given up). */
  releaseHeld(): void {
    const cutoff = this.core.now() - this.core.gapGraceMs
    for (const [contact, held] of [...this.heldBack]) {
      if (!held.some((h) => h.since <= cutoff)) continue
      this.heldBack.delete(contact)
      for (const h of held.sort((x, y) => x.outcome.senderSeq - y.outcome.senderSeq)) this.announce(h.outcome)
    }
  }
}
