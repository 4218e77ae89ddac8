/**
 * Contacts and message requests: adding (by invite or key), safety-number changes and their acceptance, requests
 * from identities we have not added (accept, decline, bounds), and the conversation history.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { fromHex, toHex, validateEd25519PublicKey } from '@parley/crypto'
import { decodeInvite } from '@parley/wire'
import { type Core, log, MAX_RECEIPT_IDS } from './core.ts'
import { InvalidInputError, UnknownContactError } from './errors.ts'
import {
  type ContactRecord,
  decodeContact,
  decodeHistory,
  decodeSeen,
  encodeRecord,
  type HistoryRecord
} from './records.ts'
import { dropRequest, type MessageRequest, readRequests, settleRequest } from './requests.ts'

export class Contacts {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  async contact(identityHex: string): Promise<ContactRecord> {
    const bytes = await this.core.store.get('contacts', identityHex)
    if (bytes === undefined) throw new UnknownContactError()
    return decodeContact(bytes)
  }

  /** Every contact. */
  async contacts(): Promise<ContactRecord[]> {
    const out: ContactRecord[] = []
    for await (const { value } of this.core.store.query('contacts')) out.push(decodeContact(value))
    return out
  }

  /**
   * Adds a contact by identity key (hex) or invite link. A new identity under the name of an existing contact is a
   * safety-number change: the contact is marked `identity-changed`, `identity-changed` is emitted and nothing is
   * sent to it until acceptIdentity().
   */
  async addContact(input: string, options: { name?: string } = {}): Promise<ContactRecord> {
    let identity: string
    let addresses: string[] = []
    let name = options.name
    if (input.startsWith('parley://')) {
      const inv = decodeInvite(input)
      identity = toHex(inv.identityKey)
      addresses = inv.addresses.map((a) => multiaddr(a).toString())
      name ??= inv.name
    } else {
      if (!/^[0-9a-f]{64}$/.test(input))
        throw new InvalidInputError('contact', 'an invite link or a 64-hex identity key')
      validateEd25519PublicKey('contact identity key', fromHex(input)) // InvalidKey: off-curve or small-order (zero)
      identity = input
    }
    if (identity === toHex(this.core.identityKey)) throw new InvalidInputError('contact', 'someone else than yourself')
    if (name !== undefined) {
      const same = (await this.contacts()).find((c) => c.name === name && c.identity !== identity)
      if (same !== undefined) {
        // Under the contact's lock: a send or receipt in flight must not write back the unmarked record.
        const changed = await this.core.locked(same.identity, async () => {
          const current = await this.contact(same.identity)
          const marked: ContactRecord = { ...current, status: 'identity-changed', pendingIdentity: identity }
          await this.core.store.put('contacts', same.identity, encodeRecord(marked))
          return marked
        })
        this.core.events.emit('identity-changed', { contact: same.identity, name, newIdentity: identity })
        return changed
      }
    }
    let accepted = false
    const record = await this.core.locked(identity, async () => {
      const existing = await this.core.store.get('contacts', identity)
      const next: ContactRecord = existing
        ? {
            ...decodeContact(existing),
            ...(name !== undefined && { name }),
            addresses: addresses.length > 0 ? addresses : decodeContact(existing).addresses
          }
        : {
            v: 1,
            identity,
            ...(name !== undefined && { name }),
            addresses,
            status: 'ok',
            nextSeq: 0,
            verified: false,
            createdAt: this.core.now()
          }
      const b = this.core.store.batch()
      b.put('contacts', identity, encodeRecord(next))
      // A message request from this identity becomes the conversation.
      accepted = await settleRequest(this.core.store, b, identity)
      await b.commit()
      return next
    })
    this.core.events.emit('contact', { contact: identity, ...(name !== undefined && { name }) })
    if (accepted) await this.afterAccept(identity)
    return record
  }

  /** Message requests: identities we have not added that wrote to us (bounded; see requests.ts). */
  async requests(): Promise<MessageRequest[]> {
    return readRequests(this.core.store)
  }

  /** Accepts a message request: the sender becomes a contact, and its messages get their delivered receipts. */
  async acceptRequest(identity: string, options: { name?: string } = {}): Promise<ContactRecord> {
    if (!(await readRequests(this.core.store)).some((r) => r.identity === identity)) throw new UnknownContactError()
    return this.addContact(identity, options)
  }

  /** Declines a message request: its messages, dedup ids, device and sessions are deleted. */
  async declineRequest(identity: string): Promise<boolean> {
    return dropRequest(this.requestStore(), this.requestEffects, identity)
  }

  /** What a request's bounds and drops need from us. */
  requestStore() {
    return this.core.store as unknown as Parameters<typeof dropRequest>[0]
  }

  readonly requestEffects = {
    removeSessions: async (identity: string): Promise<void> => {
      const addresses: string[] = []
      for await (const { key } of this.core.store.query('sessions', { prefix: `${identity}.` })) addresses.push(key)
      for (const address of addresses) {
        await this.core.manager.removeSession(address, () => this.core.store.delete('sessions', address))
      }
    }
  }

  /** A request was accepted: its messages now get the delivered receipts they were denied, and a deposit token. */
  async afterAccept(identity: string): Promise<void> {
    const ids: string[] = []
    for await (const { value } of this.core.store.query('history', { prefix: `${identity}/in/` })) {
      const h = decodeHistory(value)
      if (h.receiptOwed === true) ids.push(h.id)
    }
    // Queued durably before accept resolves (a one-shot accept on a stopped profile stops right after).
    for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
      await this.core.receipts.sendReceipt(identity, 'delivered', ids.slice(i, i + MAX_RECEIPT_IDS))
    }
    void this.core.receipts
      .giveDepositToken(identity)
      .catch((e: Error) => log('giving a deposit token failed: %s', e.message))
  }

  /** Accepts a contact's new identity after a safety-number change: the contact now is that identity. */
  async acceptIdentity(contact: string): Promise<ContactRecord> {
    const first = await this.contact(contact)
    if (first.status !== 'identity-changed' || first.pendingIdentity === undefined) return first
    const pending = first.pendingIdentity
    // Both records change together, under both contacts' locks, so no concurrent send or receipt writes an old copy.
    const next = await this.core.locked(contact, () =>
      this.core.locked(pending, async () => {
        const c = await this.contact(contact)
        const existing = await this.core.store.get('contacts', pending)
        // The new identity may already have written to us (a message request): keep its sequence numbers.
        const known = existing === undefined ? undefined : decodeContact(existing)
        const merged: ContactRecord = {
          v: 1,
          identity: pending,
          ...(c.name !== undefined && { name: c.name }),
          addresses: known?.addresses ?? [],
          status: 'ok',
          nextSeq: Math.max(known?.nextSeq ?? 0, 0),
          verified: false,
          createdAt: known?.createdAt ?? this.core.now()
        }
        const b = this.core.store.batch()
        b.delete('contacts', c.identity)
        b.put('contacts', merged.identity, encodeRecord(merged))
        await settleRequest(this.core.store, b, pending)
        // Messages still queued for the old identity are never sent to the new one (the user wrote them to someone
        // else's key): they leave the outbox and their history entries say `failed`.
        const dropped = this.core.outbox.schedule.ofContact(c.identity)
        for (const e of dropped) {
          b.delete('outbox', e.id)
          const seen = await this.core.store.get('seen', e.id)
          const hkey = seen && decodeSeen(seen).history
          const h = hkey && (await this.core.store.get('history', hkey))
          if (hkey && h) b.put('history', hkey, encodeRecord({ ...decodeHistory(h), state: 'failed' }))
        }
        await b.commit()
        for (const e of dropped) this.core.outbox.schedule.delete(e.id)
        return merged
      })
    )
    const c = first
    this.core.events.emit('contact', { contact: next.identity, ...(c.name !== undefined && { name: c.name }) })
    return next
  }

  /** A contact's conversation, in order (per-sender sequence, then time). */
  async history(contact: string): Promise<HistoryRecord[]> {
    const out: HistoryRecord[] = []
    for await (const { value } of this.core.store.query('history', { prefix: `${contact}/` }))
      out.push(decodeHistory(value))
    return out.sort((a, b) => a.sentAt - b.sentAt || a.senderSeq - b.senderSeq)
  }
}
