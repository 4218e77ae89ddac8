/**
 * Call signals: opaque bytes (a CallSignal of @parley/calls) sent to a contact as an ordinary end-to-end encrypted
 * `call-signal` payload over the contact's session stream, never stored in history and never queued (a call signal
 * is stale by the time a retry could deliver it). Sends to one contact are encrypted and queued on the session stream
 * one at a time, in call order (the stream keeps that order), so the receiver sees them in the order they were sent. Only contacts: a signal from a stranger is dropped on receipt
 * (received.ts), and we send only to contacts whose identity is current.
 */
import { deviceAddress, fromHex, ParleyCryptoError } from '@parley/crypto'
import { encodePaddedPayload, MAX_CALL_SIGNAL_BYTES } from '@parley/wire'
import { DEFAULT_DIAL_TIMEOUT } from './constants.ts'
import { type Core, log } from './core.ts'
import { InvalidInputError } from './errors.ts'

/** What `messenger.signals` offers: sending; receiving is the `call-signal` event. */
export interface CallSignals {
  /**
   * Sends one call signal to a contact's current device; true once that device stored and acknowledged it, false
   * when it could not be reached now (nothing is queued). Signals to one contact leave in call order.
   */
  send(contact: string, signal: Uint8Array, options?: { signal?: AbortSignal }): Promise<boolean>
}

export class Signals implements CallSignals {
  private readonly core: Core
  /** Per contact: the turn of the last send (the next one starts when it is released). Entries go when released. */
  private readonly chains = new Map<string, Promise<void>>()

  constructor(core: Core) {
    this.core = core
  }

  send(contact: string, bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_CALL_SIGNAL_BYTES) {
      return Promise.reject(new InvalidInputError('signal', `1..${MAX_CALL_SIGNAL_BYTES} bytes`))
    }
    // Each send takes its turn until its frame is queued on the session stream (which keeps call order), not until
    // its Ack: signals pipeline, as candidates trickle out right after the offer.
    const previous = this.chains.get(contact) ?? Promise.resolve()
    let release!: () => void
    const turn = new Promise<void>((r) => {
      release = r
    })
    this.chains.set(contact, turn)
    void turn.then(() => {
      if (this.chains.get(contact) === turn) this.chains.delete(contact)
    })
    return previous.then(async () => {
      try {
        return await this.sendNow(contact, bytes, options, release)
      } finally {
        release()
      }
    })
  }

  private async sendNow(
    contact: string,
    bytes: Uint8Array,
    options: { signal?: AbortSignal },
    queued: () => void
  ): Promise<boolean> {
    if (!this.core.online) return false
    const c = await this.core.contacts.contact(contact)
    if (c.status !== 'ok') return false
    const signal = this.core.signal(DEFAULT_DIAL_TIMEOUT, options.signal)
    try {
      const target = await this.core.peers.resolve(c, { signal })
      let address = deviceAddress(fromHex(c.identity), target.deviceKey)
      if ((await this.core.manager.sessionInfo(address)) === undefined) {
        address = await this.core.peers.startSession(c, signal)
      }
      const id = this.core.backend.randomBytes(16)
      const payload = encodePaddedPayload({
        kind: 'call-signal',
        senderSeq: 0,
        sentAt: this.core.now(),
        callSignal: bytes
      })
      const encrypt = () => this.core.manager.encrypt(address, payload, { messageId: id })
      const { ciphertext } = await this.core.locked(contact, async () => {
        try {
          return await encrypt()
        } catch (e) {
          // Unanswered for too long: that session is not used again; a new one carries the signal.
          if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
          await this.core.manager.archiveCurrentSession(address)
          address = await this.core.peers.startSession(c, signal)
          return encrypt()
        }
      })
      const acked = this.core.outbox.streams.deliver(target.peerId, id, ciphertext, signal, () =>
        this.core.peers.dial(target.peerId, target.addresses, this.core.ids.session, signal)
      )
      // deliver() puts the frame in line on its first step; the next signal may follow before this one's Ack.
      await Promise.resolve()
      queued()
      const ack = await acked
      if (ack.status !== 'ok') log('call signal refused: %s', ack.errorCode)
      return ack.status === 'ok'
    } catch (e) {
      log('call signal not delivered: %s', (e as Error).message)
      return false
    }
  }
}
