/**
 * Receiving: the prekey, session-stream and single-DM protocols, one receive at a time per message id, the dedup
 * check, and the decrypt and durable commit of what arrives (the session manager commits through protocolStore(),
 * which writes what a received payload changes in the same batch). What to do once a commit is durable — events,
 * receipts, resends, in order — is announcements.ts.
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
import { BUNDLE_LIFETIME_MS, DEFAULT_DIAL_TIMEOUT, MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER } from './constants.ts'
import type { Core, InboundSlot, Via } from './core.ts'
import { cryptoStore } from './crypto-store.ts'
import { PeerProtocolError } from './errors.ts'
import { boundIdentity, decodeSeen, deviceClaims, receivedKey, wasReceived } from './records.ts'
import { serveSessionFrames } from './session-serve.ts'

export class Inbound {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** Messages being received now, by hex id. */
  readonly receiving = new Map<string, Promise<Uint8Array>>()

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

  /** The crypto layer's persistence (crypto-store.ts): each commit is one profile batch, released once queued. */
  protocolStore(): ProtocolStore {
    return cryptoStore(this.core, {
      slot: (id) => this.inbound.get(id),
      // Mail is announced per page, in each sender's order (a relay may hand it out in any order).
      onDurable: (outcome, context, slot) =>
        slot !== undefined && !context.authenticated
          ? () => this.core.announcements.drained.push(outcome)
          : () => this.core.announcements.react(outcome, context)
    })
  }

  /** Whether message `id` from `identity` is a text in our history. */
  async storedText(identity: string, id: string): Promise<boolean> {
    const seen = await this.core.store.get('seen', receivedKey(identity, id))
    return seen !== undefined && decodeSeen(seen).history !== undefined
  }
}
