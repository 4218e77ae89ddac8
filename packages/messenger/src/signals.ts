/**
 * Call signals: opaque bytes (a CallSignal of @parley/calls) sent to a contact as an ordinary end-to-end encrypted
 * `call-signal` payload over the contact's session stream, never stored in history and never queued (a call signal
 * is stale by the time a retry could deliver it). Sends to one contact go out one at a time, in call order, so the
 * receiver sees them in the order they were sent. Only contacts: a signal from a stranger is dropped on receipt
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
  /** Per contact: the send in progress (the next one starts when it settles). Entries go when their chain ends. */
  private readonly chains = new Map<string, Promise<unknown>>()

  constructor(core: Core) {
    this.core = core
  }

  send(contact: string, bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_CALL_SIGNAL_BYTES) {
      return Promise.reject(new InvalidInputError('signal', `1..${MAX_CALL_SIGNAL_BYTES} bytes`))
    }
    const previous = this.chains.get(contact) ?? Promise.resolve()
    const next = previous.then(() => this.sendNow(contact, bytes, options))
    const tail = next.catch(() => {})
    this.chains.set(contact, tail)
    void tail.then(() => {
      if (this.chains.get(contact) === tail) this.chains.delete(contact)
    })
    return next
  }

  private async sendNow(contact: string, bytes: Uint8Array, options: { signal?: AbortSignal }): Promise<boolean> {
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
      const ack = await this.core.outbox.streams.deliver(target.peerId, id, ciphertext, signal, () =>
        this.core.peers.dial(target.peerId, target.addresses, this.core.ids.session, signal)
      )
      if (ack.status !== 'ok') log('call signal refused: %s', ack.errorCode)
      return ack.status === 'ok'
    } catch (e) {
      log('call signal not delivered: %s', (e as Error).message)
      return false
    }
  }
}
