/**
 * The quota index: what every mailbox holds (registration, envelope ids with their sizes and deposit times, one-time
 * prekey ids), and the byte and count totals the limits are checked against. It lives in memory and is rebuilt from
 * the records themselves at start (`loadMailboxIndex`), so the accounting after a restart or a crash is exactly what
 * is on disk: there is no counter to drift or to lose.
 *
 * Two totals are kept: envelope bytes per mailbox (the per-mailbox quota) and record bytes for the whole store (keys
 * and values of every record: the global cap). Writes in flight hold a reservation against both, so concurrent
 * requests cannot overshoot a limit together.
 */
import type { Datastore } from 'interface-datastore'
import {
  decodeItem,
  decodeRegistration,
  MAILBOX_KEY_PREFIX,
  PREKEY_KINDS,
  type PrekeyKind,
  parseKey,
  recordBytes
} from './mailbox-layout.ts'

/** One waiting envelope, as the index knows it. */
export interface ItemMeta {
  /** Envelope bytes (the per-mailbox quota counts these). */
  size: number
  depositedAt: number
  /** Key and value bytes of its record (the global cap counts these). */
  recordBytes: number
}

/** One mailbox. */
export interface Box {
  /** Registration expiry (0 when the record is gone). */
  expiresAt: number
  /** Deposit-token hashes (hex); empty: anyone may deposit. */
  tokens: Set<string>
  /** Record bytes of the registration (0 when there is none on disk). */
  registrationBytes: number
  /** Item id -> metadata, in id order. */
  items: Map<number, ItemMeta>
  /** Envelope bytes waiting. */
  bytes: number
  /** Count and envelope bytes reserved by deposits whose write is in flight. */
  reservedItems: number
  reservedBytes: number
  /** Writes in flight on this mailbox (deposits, registrations, prekey uploads and hand-outs): the purge waits. */
  writes: number
  /** Prekey id -> record bytes, per kind, in id order (the lowest is handed out first). */
  prekeys: Record<PrekeyKind, Map<number, number>>
}

/** The index of every mailbox at this relay, with the store-wide totals. */
export class MailboxIndex {
  readonly #boxes = new Map<string, Box>()
  /** Record bytes on disk, and reserved by writes in flight. */
  #storeBytes = 0
  #reservedStoreBytes = 0
  /** Envelopes on disk, and reserved by deposits in flight. */
  #envelopes = 0
  #reservedEnvelopes = 0
  #lastItemId = 0
  /** Registrations of new (or lapsed) mailboxes whose write is in flight: the mailbox count counts them already. */
  registering = 0

  get(mailbox: string): Box | undefined {
    return this.#boxes.get(mailbox)
  }

  /** The mailbox's entry, created empty if there is none. */
  box(mailbox: string): Box {
    let box = this.#boxes.get(mailbox)
    if (box === undefined) {
      box = {
        expiresAt: 0,
        tokens: new Set(),
        registrationBytes: 0,
        items: new Map(),
        bytes: 0,
        reservedItems: 0,
        reservedBytes: 0,
        writes: 0,
        prekeys: { x25519: new Map(), kem: new Map() }
      }
      this.#boxes.set(mailbox, box)
    }
    return box
  }

  entries(): IterableIterator<[string, Box]> {
    return this.#boxes.entries()
  }

  /** Forgets a mailbox whose records are all deleted (its bytes must already be released). */
  drop(mailbox: string): void {
    this.#boxes.delete(mailbox)
  }

  /** Record bytes of every mailbox record on disk. */
  get storeBytes(): number {
    return this.#storeBytes
  }

  get envelopes(): number {
    return this.#envelopes
  }

  /** Whether `bytes` more record bytes (and `envelopes` more envelopes) fit, counting writes in flight. */
  fits(limits: { maxStoreBytes: number; maxStoredEnvelopes: number }, bytes: number, envelopes = 0): boolean {
    return (
      this.#storeBytes + this.#reservedStoreBytes + bytes <= limits.maxStoreBytes &&
      this.#envelopes + this.#reservedEnvelopes + envelopes <= limits.maxStoredEnvelopes
    )
  }

  /** Holds room for a write in flight; `release` gives it back whatever the outcome. */
  reserve(bytes: number, envelopes = 0): void {
    this.#reservedStoreBytes += bytes
    this.#reservedEnvelopes += envelopes
  }

  release(bytes: number, envelopes = 0): void {
    this.#reservedStoreBytes -= bytes
    this.#reservedEnvelopes -= envelopes
  }

  /** A fresh item id: above every id ever given out here, and above `now * 1024` so ids grow across restarts. */
  nextItemId(now: number): number {
    this.#lastItemId = Math.max(this.#lastItemId + 1, now * 1024)
    return this.#lastItemId
  }

  // Every change below follows a committed write, and moves the totals with it.

  setRegistration(box: Box, expiresAt: number, tokens: Iterable<string>, bytes: number): void {
    this.#storeBytes += bytes - box.registrationBytes
    box.registrationBytes = bytes
    box.expiresAt = expiresAt
    box.tokens = new Set(tokens)
  }

  removeRegistration(box: Box): void {
    this.#storeBytes -= box.registrationBytes
    box.registrationBytes = 0
    box.expiresAt = 0
  }

  addItem(box: Box, id: number, meta: ItemMeta): void {
    box.items.set(id, meta)
    box.bytes += meta.size
    this.#storeBytes += meta.recordBytes
    this.#envelopes++
    if (id > this.#lastItemId) this.#lastItemId = id
  }

  /** Removes an item if the index still has it; true if it did. */
  removeItem(box: Box, id: number): boolean {
    const meta = box.items.get(id)
    if (meta === undefined) return false
    box.items.delete(id)
    box.bytes -= meta.size
    this.#storeBytes -= meta.recordBytes
    this.#envelopes--
    return true
  }

  addPrekey(box: Box, kind: PrekeyKind, id: number, bytes: number): void {
    box.prekeys[kind].set(id, bytes)
    this.#storeBytes += bytes
  }

  removePrekey(box: Box, kind: PrekeyKind, id: number): void {
    const bytes = box.prekeys[kind].get(id)
    if (bytes === undefined) return
    box.prekeys[kind].delete(id)
    this.#storeBytes -= bytes
  }

  /** Puts a mailbox's prekeys back in id order (after adds, which may come in any order). */
  sortPrekeys(box: Box): void {
    for (const kind of PREKEY_KINDS) box.prekeys[kind] = new Map([...box.prekeys[kind]].sort((a, b) => a[0] - b[0]))
  }

  /** Mailboxes whose registration is unexpired at `now`. */
  liveMailboxes(now: number): number {
    let live = 0
    for (const box of this.#boxes.values()) if (box.expiresAt > now) live++
    return live
  }

  /** Envelope bytes and prekeys held, over all mailboxes. */
  totals(): { envelopeBytes: number; prekeys: number } {
    let envelopeBytes = 0
    let prekeys = 0
    for (const box of this.#boxes.values()) {
      envelopeBytes += box.bytes
      prekeys += box.prekeys.x25519.size + box.prekeys.kem.size
    }
    return { envelopeBytes, prekeys }
  }
}

/** Rebuilds the index from the records in `store`: every byte counted is a byte read. */
export async function loadMailboxIndex(store: Datastore): Promise<MailboxIndex> {
  const index = new MailboxIndex()
  for await (const { key, value } of store.query({ prefix: MAILBOX_KEY_PREFIX })) {
    const parsed = parseKey(key.toString())
    if (parsed === undefined) continue
    const bytes = recordBytes(key, value)
    const box = index.box(parsed.mailbox)
    if (parsed.type === 'registration') {
      const rec = decodeRegistration(value)
      index.setRegistration(box, rec.expiresAt, rec.tokens, bytes)
    } else if (parsed.type === 'envelope') {
      const item = decodeItem(value)
      index.addItem(box, parsed.id, { size: item.envelope.length, depositedAt: item.depositedAt, recordBytes: bytes })
    } else {
      index.addPrekey(box, parsed.kind, parsed.id, bytes)
    }
  }
  // Keys come sorted, but sort anyway: the index order is the delivery order.
  for (const [, box] of index.entries()) {
    box.items = new Map([...box.items].sort((a, b) => a[0] - b[0]))
    index.sortPrekeys(box)
  }
  return index
}
