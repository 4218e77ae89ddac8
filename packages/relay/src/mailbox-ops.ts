/**
 * The mailbox operations: register, challenge and auth, deposit, fetch, ack, put and take one-time prekeys (the purge
 * of what expired is mailbox-purge.ts). Each checks its limits against the quota index, writes through the group
 * commit (answers only once the write is synced) and only then updates the index. A refusal is a MailboxRefusedError
 * with its code. Between taking a mailbox from the index and its write, no operation awaits anything else, and the
 * write is counted in `box.writes`: the purge leaves such a mailbox alone.
 *
 * When the store is full (`maxStoreBytes`, `maxStoredEnvelopes`), nothing that adds a record is written: deposits
 * and new mailboxes are refused with `RelayFull`, prekey uploads keep what fits. An owner can always renew its
 * registration and drain (that is what frees room): a renewal whose larger token list does not fit keeps its old
 * tokens until there is room.
 */
import {
  type CryptoBackend,
  decodeOneTimePrekey,
  type SignedOneTimePrekey,
  toHex,
  verifyOneTimePrekey
} from '@parley/crypto'
import {
  decodeMailboxRegistration,
  MAILBOX_CHALLENGE_BYTES,
  MAX_MAILBOX_PAGE_BYTES,
  MAX_MAILBOX_PAGE_ITEMS,
  type MailboxErrorCode,
  type MailboxItem,
  type MailboxResponse,
  mailboxId,
  verifyMailboxAuth,
  verifyMailboxRegistration
} from '@parley/wire'
import type { Datastore } from 'interface-datastore'
import { MailboxRefusedError } from './errors.ts'
import type { GroupCommit } from './group-commit.ts'
import type { Box, MailboxIndex } from './mailbox-index.ts'
import {
  decodeItem,
  encodeItem,
  encodeRegistration,
  envelopeKey,
  envelopePrefix,
  PREKEY_KINDS,
  type PrekeyKind,
  prekeyKey,
  recordBytes,
  registrationKey
} from './mailbox-layout.ts'
import { purgeExpired } from './mailbox-purge.ts'
import type { MailboxCounters, MailboxLimits, RelayLog, StoreFullOp } from './mailbox-types.ts'

/** What one stream knows about its owner session. */
export interface Session {
  challenge?: { bytes: Uint8Array; mailbox: Uint8Array; expiresAt: number } | undefined
  owner?: string | undefined
  identityKey?: Uint8Array | undefined
}

/** What the operations share with the server. */
export interface MailboxOpsContext {
  store: Datastore
  writer: GroupCommit
  index: MailboxIndex
  limits: MailboxLimits
  backend: CryptoBackend
  now: () => number
  log: RelayLog
  /** This relay's peer id (multihash bytes): registrations and auth signatures must name it. */
  relayId: () => Uint8Array
}

const refuse = (code: MailboxErrorCode) => new MailboxRefusedError(code)

/** A datastore write that failed is StoreFailed to the client (and logged without any of its content). */
async function write(ctx: MailboxOpsContext, op: string, apply: Parameters<GroupCommit['write']>[0]): Promise<void> {
  try {
    await ctx.writer.write(apply)
  } catch (e) {
    ctx.log('mailbox.store.failed', { op, error: String((e as Error).name) })
    throw refuse('StoreFailed')
  }
}

/** The operations over one store and its quota index; the server calls one per request. */
export class MailboxOps {
  readonly #ctx: MailboxOpsContext
  readonly counters: MailboxCounters = {
    deposits: 0,
    fetched: 0,
    acked: 0,
    purged: 0,
    prekeysHandedOut: 0,
    registrations: 0,
    storeFull: { deposit: 0, register: 0, 'put-prekeys': 0, 'register-tokens': 0 }
  }

  constructor(ctx: MailboxOpsContext) {
    this.#ctx = ctx
  }

  async idOf(identityKey: Uint8Array): Promise<string> {
    return toHex(await mailboxId(this.#ctx.backend, identityKey))
  }

  /** The mailbox if its registration is unexpired; UnknownMailbox otherwise. */
  #live(id: string): Box {
    const box = this.#ctx.index.get(id)
    if (box === undefined || box.expiresAt <= this.#ctx.now()) throw refuse('UnknownMailbox')
    return box
  }

  #full(op: StoreFullOp, n = 1): void {
    this.counters.storeFull[op] += n
  }

  async deposit(mailbox: Uint8Array, envelope: Uint8Array, token?: Uint8Array): Promise<MailboxResponse> {
    const { index, limits } = this.#ctx
    if (envelope.length > limits.maxEnvelopeBytes) throw refuse('TooLarge')
    const id = await this.idOf(mailbox)
    const tokenHash = token === undefined ? undefined : toHex(await this.#ctx.backend.sha256(token))
    const box = this.#live(id)
    if (box.tokens.size > 0 && (tokenHash === undefined || !box.tokens.has(tokenHash)))
      throw refuse('DepositTokenRequired')
    if (
      box.items.size + box.reservedItems + 1 > limits.maxItemsPerMailbox ||
      box.bytes + box.reservedBytes + envelope.length > limits.maxBytesPerMailbox
    ) {
      throw refuse('QuotaExceeded')
    }
    const now = this.#ctx.now()
    const itemId = index.nextItemId(now)
    const key = envelopeKey(id, itemId)
    const value = encodeItem({ id: itemId, depositedAt: now, envelope })
    const size = recordBytes(key, value)
    if (!index.fits(limits, size, 1)) {
      this.#full('deposit')
      throw refuse('RelayFull')
    }
    // Reserved before the write so concurrent deposits cannot overshoot a quota or the cap together.
    box.reservedItems++
    box.reservedBytes += envelope.length
    box.writes++
    index.reserve(size, 1)
    try {
      await write(this.#ctx, 'deposit', (b) => b.put(key, value))
    } finally {
      box.reservedItems--
      box.reservedBytes -= envelope.length
      box.writes--
      index.release(size, 1)
    }
    index.addItem(box, itemId, { size: envelope.length, depositedAt: now, recordBytes: size })
    this.counters.deposits++
    return { status: 'ok', id: itemId }
  }

  async register(bytes: Uint8Array): Promise<MailboxResponse> {
    const { index, limits, backend } = this.#ctx
    const reg = decodeMailboxRegistration(bytes)
    if (toHex(reg.relay) !== toHex(this.#ctx.relayId())) throw refuse('WrongRelay')
    const now = this.#ctx.now()
    if (reg.expiresAt <= now || reg.expiresAt - now > limits.maxRegistrationLifetimeMs)
      throw refuse('RegistrationExpired')
    try {
      await verifyMailboxRegistration(backend, reg)
    } catch {
      throw refuse('BadSignature')
    }
    const id = await this.idOf(reg.identityKey)
    const existing = index.get(id)
    if (existing !== undefined && existing.expiresAt > reg.expiresAt) throw refuse('StaleRegistration')
    // Registrations of new mailboxes still writing count too: a burst of them cannot pass the check together.
    const isNew = existing === undefined || existing.expiresAt <= now
    if (isNew && index.liveMailboxes(now) + index.registering >= limits.maxMailboxes) throw refuse('TooManyMailboxes')
    const key = registrationKey(id)
    const before = existing?.registrationBytes ?? 0
    // A record that does not grow is always written: an owner must be able to renew and drain, which frees room.
    const fitsRecord = (r: Uint8Array) =>
      recordBytes(key, r) <= before || index.fits(limits, recordBytes(key, r) - before)
    let tokens: readonly string[] = reg.depositTokenHashes.map(toHex)
    let record = encodeRegistration({ expiresAt: reg.expiresAt, tokens })
    if (!fitsRecord(record)) {
      if (existing === undefined || before === 0) {
        this.#full('register')
        throw refuse('RelayFull')
      }
      // The expiry moves on, the larger token list waits until it fits: deposits with the new tokens are refused
      // meanwhile and stay queued at their senders. (The record may still grow by a digit of the expiry.)
      tokens = [...existing.tokens]
      record = encodeRegistration({ expiresAt: reg.expiresAt, tokens })
      this.#full('register-tokens')
    }
    const size = recordBytes(key, record)
    const grow = Math.max(0, size - before)
    const box = index.box(id)
    box.writes++
    index.reserve(grow)
    if (isNew) index.registering++
    try {
      await write(this.#ctx, 'register', (b) => b.put(key, record))
    } finally {
      box.writes--
      index.release(grow)
      if (isNew) index.registering--
    }
    index.setRegistration(index.box(id), reg.expiresAt, tokens, size)
    this.counters.registrations++
    this.#ctx.log('mailbox.register', { tokens: tokens.length })
    return { status: 'ok' }
  }

  challenge(mailbox: Uint8Array, session: Session): MailboxResponse {
    const challenge = this.#ctx.backend.randomBytes(MAILBOX_CHALLENGE_BYTES)
    session.challenge = { bytes: challenge, mailbox, expiresAt: this.#ctx.now() + this.#ctx.limits.challengeTtlMs }
    session.owner = undefined
    return { status: 'ok', challenge }
  }

  async auth(
    mailbox: Uint8Array,
    challenge: Uint8Array,
    signature: Uint8Array,
    session: Session
  ): Promise<MailboxResponse> {
    const issued = session.challenge
    // Single use, whatever the outcome: a replayed or a failed AUTH needs a fresh challenge.
    session.challenge = undefined
    if (
      issued === undefined ||
      issued.expiresAt <= this.#ctx.now() ||
      toHex(issued.bytes) !== toHex(challenge) ||
      toHex(issued.mailbox) !== toHex(mailbox)
    ) {
      throw refuse('UnknownChallenge')
    }
    if (!(await verifyMailboxAuth(this.#ctx.backend, this.#ctx.relayId(), mailbox, challenge, signature))) {
      throw refuse('BadSignature')
    }
    const id = await this.idOf(mailbox)
    const box = this.#live(id)
    session.owner = id
    session.identityKey = mailbox
    return { status: 'ok', prekeysX25519: box.prekeys.x25519.size, prekeysKem: box.prekeys.kem.size }
  }

  async fetch(id: string): Promise<MailboxResponse> {
    const box = this.#ctx.index.get(id)
    const items: MailboxItem[] = []
    let bytes = 0
    let more = false
    if (box !== undefined && box.items.size > 0) {
      const cutoff = this.#ctx.now() - this.#ctx.limits.ttlMs
      // One ordered range read over the mailbox's keys (ids are fixed-width hex, so key order is id order), not a
      // read per envelope: a page of a hundred envelopes is one LevelDB iterator.
      for await (const { value } of this.#ctx.store.query({ prefix: envelopePrefix(id) })) {
        const item = decodeItem(value)
        // Not yet indexed (a deposit whose sync is in flight) or acknowledged meanwhile: not served.
        if (!box.items.has(item.id) || item.depositedAt <= cutoff) continue
        if (
          items.length > 0 &&
          (bytes + item.envelope.length > MAX_MAILBOX_PAGE_BYTES || items.length >= MAX_MAILBOX_PAGE_ITEMS)
        ) {
          more = true
          break
        }
        items.push(item)
        bytes += item.envelope.length
      }
    }
    this.counters.fetched += items.length
    return { status: 'ok', items, more }
  }

  async ack(id: string, ids: readonly number[]): Promise<MailboxResponse> {
    const box = this.#ctx.index.get(id)
    const known = box === undefined ? [] : ids.filter((i) => box.items.has(i))
    if (box !== undefined && known.length > 0) {
      await write(this.#ctx, 'ack', (b) => {
        for (const i of known) b.delete(envelopeKey(id, i))
      })
      for (const i of known) if (this.#ctx.index.removeItem(box, i)) this.counters.acked++
    }
    return { status: 'ok' }
  }

  async putPrekeys(id: string, identityKey: Uint8Array, encoded: readonly Uint8Array[]): Promise<MailboxResponse> {
    const { index, limits, backend } = this.#ctx
    this.#live(id)
    const prekeys: SignedOneTimePrekey[] = []
    for (const bytes of encoded) {
      try {
        const p = decodeOneTimePrekey(bytes)
        await verifyOneTimePrekey(backend, identityKey, p)
        prekeys.push(p)
      } catch {
        throw refuse('BadPrekey')
      }
    }
    const box = this.#live(id) // again: the registration may have lapsed while the signatures were checked
    const add: Array<{ kind: PrekeyKind; id: number; value: Uint8Array; bytes: number }> = []
    const counts = { x25519: box.prekeys.x25519.size, kem: box.prekeys.kem.size }
    let adding = 0
    for (let i = 0; i < prekeys.length; i++) {
      const p = prekeys[i]!
      if (box.prekeys[p.kind].has(p.id) || add.some((a) => a.kind === p.kind && a.id === p.id)) continue
      if (counts[p.kind] >= limits.maxOneTimePrekeysPerMailbox) continue
      const value = encoded[i]!
      const bytes = recordBytes(prekeyKey(id, p.kind, p.id), value)
      // Prekeys are a convenience (senders fall back to the last-resort prekey): keep what fits, answer ok.
      if (!index.fits(limits, adding + bytes)) {
        this.#full('put-prekeys')
        continue
      }
      counts[p.kind]++
      adding += bytes
      add.push({ kind: p.kind, id: p.id, value, bytes })
    }
    if (add.length > 0) {
      box.writes++
      index.reserve(adding)
      try {
        await write(this.#ctx, 'put-prekeys', (b) => {
          for (const a of add) b.put(prekeyKey(id, a.kind, a.id), a.value)
        })
      } finally {
        box.writes--
        index.release(adding)
      }
      for (const a of add) index.addPrekey(box, a.kind, a.id, a.bytes)
      index.sortPrekeys(box)
    }
    return { status: 'ok', prekeysX25519: box.prekeys.x25519.size, prekeysKem: box.prekeys.kem.size }
  }

  async takePrekeys(mailbox: Uint8Array): Promise<MailboxResponse> {
    const { index, store } = this.#ctx
    const id = await this.idOf(mailbox)
    const box = this.#live(id)
    // Taken out of the index before any await: concurrent takers never get the same key.
    const taken: Array<{ kind: PrekeyKind; id: number; bytes: number }> = []
    for (const kind of PREKEY_KINDS) {
      const first = box.prekeys[kind].entries().next()
      if (first.done) continue
      const [pid, bytes] = first.value
      index.removePrekey(box, kind, pid)
      taken.push({ kind, id: pid, bytes })
    }
    if (taken.length === 0) return { status: 'ok' }
    const values: Uint8Array[] = []
    box.writes++
    try {
      for (const t of taken) values.push(await store.get(prekeyKey(id, t.kind, t.id)))
      // Deleted (synced) before they are handed out: a crash can lose a key, never give one out twice.
      await write(this.#ctx, 'take-prekeys', (b) => {
        for (const t of taken) b.delete(prekeyKey(id, t.kind, t.id))
      })
    } catch (e) {
      // Still on disk: back in the index (and in the byte count), to be handed out later.
      for (const t of taken) index.addPrekey(box, t.kind, t.id, t.bytes)
      index.sortPrekeys(box)
      throw e instanceof MailboxRefusedError ? e : refuse('StoreFailed')
    } finally {
      box.writes--
    }
    this.counters.prekeysHandedOut += taken.length
    return { status: 'ok', oneTimePrekeys: values }
  }

  async hasPrekey(owner: Uint8Array, kind: PrekeyKind, id: number): Promise<boolean> {
    return this.#ctx.index.get(await this.idOf(owner))?.prekeys[kind].has(id) ?? false
  }

  /** See purgeExpired (mailbox-purge.ts). */
  purgeExpired(): Promise<number> {
    return purgeExpired(this.#ctx, this.counters)
  }
}
