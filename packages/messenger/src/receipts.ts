/**
 * Receipts, typing and deposit tokens: delivered receipts batch per contact while one is on its way, read receipts on
 * request, typing signals (never stored or queued), and a deposit token for each contact (with
 * mailbox.requireDepositTokens).
 */
import { deviceAddress, fromHex } from '@parley/crypto'
import { DEFAULT_DIAL_TIMEOUT } from '@parley/network'
import { DEPOSIT_TOKEN_BYTES, encodePaddedPayload } from '@parley/wire'
import { type Core, log, MAX_RECEIPT_IDS } from './core.ts'
import { TOKEN_OUT } from './records.ts'

export class Receipts {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** Contacts a deposit token is being given to right now. */
  readonly givingTokens = new Set<string>()

  /** Delivered receipts waiting to be sent, per contact, and the contacts with a receipt on its way. */
  readonly pendingReceipts = new Map<string, string[]>()

  readonly receiptInFlight = new Set<string>()

  /**
   * Delivered receipts go out at once, but while one is on its way, further ones for the same contact collect and
   * leave together when it is done: a lone message gets its receipt without delay, and a burst costs a few receipt
   * messages (each one session step and store commit) instead of one per message.
   */
  queueDeliveredReceipt(contact: string, id: string): void {
    let pending = this.pendingReceipts.get(contact)
    if (pending === undefined) {
      pending = []
      this.pendingReceipts.set(contact, pending)
    }
    pending.push(id)
    if (!this.receiptInFlight.has(contact)) void this.flushDeliveredReceipts(contact)
  }

  async flushDeliveredReceipts(contact: string): Promise<void> {
    this.receiptInFlight.add(contact)
    try {
      for (;;) {
        const ids = this.pendingReceipts.get(contact)
        if (ids === undefined || ids.length === 0 || this.core.shutdown.signal.aborted) return
        this.pendingReceipts.delete(contact)
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
          await this.sendReceipt(contact, 'delivered', ids.slice(i, i + MAX_RECEIPT_IDS)).catch((e: unknown) =>
            log('delivered receipt failed: %s', (e as Error).message)
          )
        }
      }
    } finally {
      this.receiptInFlight.delete(contact)
    }
  }

  /** Tells the contact these messages were read (an end-to-end encrypted read receipt). */
  async markRead(contact: string, ids: string[]): Promise<void> {
    await this.sendReceipt(contact, 'read', ids)
  }

  async sendReceipt(contact: string, type: 'delivered' | 'read', ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.core.outbox.queueControl(contact, 'receipt', (senderSeq) => ({
      kind: 'receipt',
      senderSeq,
      sentAt: this.core.now(),
      receipt: { type, messageIds: ids.map(fromHex) }
    }))
  }

  /**
   * With `mailbox.requireDepositTokens`: gives a contact its own deposit token (once), end-to-end encrypted, and
   * re-registers our mailboxes so the relays accept it. The token and the outbox entry carrying it land in one batch.
   */
  async giveDepositToken(contact: string): Promise<void> {
    if (!this.core.mailboxOptions.requireDepositTokens || this.givingTokens.has(contact)) return
    this.givingTokens.add(contact)
    try {
      if ((await this.core.store.get('meta', `${TOKEN_OUT}${contact}`)) !== undefined) return
      const token = this.core.backend.randomBytes(DEPOSIT_TOKEN_BYTES)
      await this.core.outbox.queueControl(
        contact,
        'token',
        (senderSeq) => ({ kind: 'deposit-token', senderSeq, sentAt: this.core.now(), depositToken: token }),
        (b) => b.put('meta', `${TOKEN_OUT}${contact}`, token)
      )
      if (this.core.online) await this.core.mailboxes.refreshMailboxes()
    } finally {
      this.givingTokens.delete(contact)
    }
  }

  /**
   * Tells a contact we are typing. Never queued or stored: sent only when a session exists and the device is
   * reachable now; otherwise dropped (it is stale by the time a retry could deliver it).
   */
  async typing(contact: string, active: boolean): Promise<boolean> {
    if (!this.core.online) return false
    const c = await this.core.contacts.contact(contact)
    const d = await this.core.peers.device(c.identity)
    if (c.status !== 'ok' || d === undefined) return false
    const address = deviceAddress(fromHex(c.identity), fromHex(d.deviceKey))
    if ((await this.core.manager.sessionInfo(address)) === undefined) return false
    try {
      const signal = this.core.signal(DEFAULT_DIAL_TIMEOUT)
      const id = this.core.backend.randomBytes(16)
      const payload = encodePaddedPayload({ kind: 'typing', senderSeq: 0, sentAt: this.core.now(), typing: { active } })
      const { ciphertext } = await this.core.locked(contact, () =>
        this.core.manager.encrypt(address, payload, { messageId: id })
      )
      const target = await this.core.peers.resolve(c, { signal })
      const ack = await this.core.outbox.streams.deliver(target.peerId, id, ciphertext, signal, () =>
        this.core.peers.dial(target.peerId, target.addresses, this.core.ids.session, signal)
      )
      return ack.status === 'ok'
    } catch {
      return false
    }
  }
}
