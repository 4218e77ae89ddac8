/**
 * The outbox's queueing: send() and control messages written durably, in order (a contact's texts numbered without
 * holes under its lock, a burst of sends sharing one sync), and put on the in-memory schedule. What it shares with the
 * modules it drives lives here too: the session streams, the schedule, the commits in flight. One delivery attempt is
 * outbox-delivery.ts; when attempts run again is outbox-retry.ts.
 */
import { fromHex, ParleyCryptoError, type ProtocolTransaction, toHex } from '@parley/crypto'
import { connectionKind } from '@parley/network'
import type { ProfileBatch } from '@parley/store'
import { encodePaddedPayload, type PayloadInit } from '@parley/wire'
import { MAX_TEXT_BYTES } from './constants.ts'
import { type Core, log, type SendResult } from './core.ts'
import { QueuedSends, QueuedWrites } from './crypto-store.ts'
import { IdentityChangedError, InvalidInputError, OutboxFullError } from './errors.ts'
import { Delivery } from './outbox-delivery.ts'
import { RetryRounds } from './outbox-retry.ts'
import { OutboxSchedule } from './outbox-schedule.ts'
import {
  type ContactRecord,
  decodeContact,
  encodeRecord,
  type HistoryRecord,
  historyKey,
  type Namespace,
  type OutboxRecord
} from './records.ts'
import { SessionStreams } from './session-stream.ts'

export class Outbox {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
    this.delivery = new Delivery(core, this)
    this.retries = new RetryRounds(core, this)
  }

  /** One delivery attempt of an entry (outbox-delivery.ts). */
  readonly delivery: Delivery

  /** The retry rounds (outbox-retry.ts). */
  readonly retries: RetryRounds

  /** Our session streams to peers (session-stream.ts), each knowing the kind of connection it runs on. */
  readonly streams = new SessionStreams(
    (peer, stream) => this.core.node?.getConnections(peer).find((c) => c.streams.includes(stream)),
    (peer) =>
      this.core.node?.getConnections(peer).some((c) => c.status === 'open' && connectionKind(c) !== 'relayed') ?? false
  )

  /** Every outbox entry's kind and due time (outbox-schedule.ts). */
  readonly schedule = new OutboxSchedule()

  /**
   * Context of the operation whose crypto commit is in flight, keyed by hex message id: `write` adds a send's records
   * to the commit, `onQueued` runs once the commit has its place in the store's write order (crypto-store.ts).
   */
  readonly pendingSends = new Map<
    string,
    {
      contact: string
      write?: (b: ProfileBatch<Namespace>, sent: NonNullable<ProtocolTransaction['sent']>) => void
      onQueued?: () => void
    }
  >()

  /** Per contact, the texts whose commit is queued but not yet settled (send() released the lock early). */
  readonly queuedSends = new QueuedSends()

  /** Texts past send()'s outbox bound and not yet on the schedule (counted against maxOutbox with the scheduled). */
  #reserved = 0

  /**
   * The overlay of queued-but-not-durable crypto commits (crypto-store.ts): a send reads the contact's text number
   * through it, since the previous send may have released the lock before its commit was durable.
   */
  readonly overlay = new QueuedWrites()

  /** Sends a text; resolves once it is durably queued and, if the peer was reachable, stored there. */
  async send(contact: string, text: string, options: { signal?: AbortSignal } = {}): Promise<SendResult> {
    if (typeof text !== 'string') throw new InvalidInputError('text', 'a string')
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES)
      throw new InvalidInputError('text', `at most ${MAX_TEXT_BYTES} bytes`)
    // Replying to a message request accepts it (as in Signal): the sender becomes a contact.
    if ((await this.core.store.get('contacts', contact)) === undefined) await this.core.contacts.acceptRequest(contact)
    // Text numbers are allocated under the contact's lock: concurrent sends get distinct, increasing numbers. With a
    // session at hand the lock is released early, once this send's commit is queued in the store's write order (the
    // next send reads the number through the overlay of queued writes), so a burst of sends shares one sync; the frame
    // still leaves only after its own commit is durable (the locked function returns only then).
    const outbox = await this.core.contactLocks.run(contact, (release) => this.#prepare(contact, text, release))
    this.scheduleEntry(outbox)
    this.#reserved--
    const id = outbox.id
    const outcome = this.core.online ? await this.delivery.attempt(outbox, options).catch(() => false as const) : false
    void this.core.receipts
      .giveDepositToken(contact)
      .catch((e: Error) => log('giving a deposit token failed: %s', e.message))
    return { id, status: outcome === false ? 'queued' : outcome }
  }

  /** send()'s part under the contact's lock: the records and, with a session at hand, the ciphertext (see send()). */
  async #prepare(contact: string, text: string, release: () => void): Promise<OutboxRecord> {
    const raw = await this.overlay.reader(this.core.store).get('contacts', contact)
    const c = raw === undefined ? await this.core.contacts.contact(contact) : decodeContact(raw)
    if (c.status === 'identity-changed') throw new IdentityChangedError()
    // The sends still settling count too: they are not on the schedule yet.
    if (this.schedule.texts + this.#reserved >= this.core.maxOutbox) throw new OutboxFullError(this.core.maxOutbox)
    this.#reserved++
    try {
      return await this.#records(contact, c, text, release)
    } catch (e) {
      this.#reserved--
      throw e
    }
  }

  async #records(contact: string, c: ContactRecord, text: string, release: () => void): Promise<OutboxRecord> {
    const id = toHex(this.core.backend.randomBytes(16))
    const sentAt = this.core.now()
    const payload = encodePaddedPayload({ kind: 'text', senderSeq: c.nextSeq, sentAt, text })
    const history: HistoryRecord = {
      v: 1,
      id,
      contact,
      direction: 'out',
      senderSeq: c.nextSeq,
      sentAt,
      text,
      state: 'pending'
    }
    const entry: OutboxRecord = {
      v: 1,
      id,
      contact,
      kind: 'text',
      payload: toHex(payload),
      attempts: 0,
      nextAttemptAt: sentAt,
      createdAt: sentAt
    }
    const hkey = historyKey(contact, 'out', c.nextSeq, id)
    const writeRecords = (b: ProfileBatch<Namespace>, withEntry: OutboxRecord) => {
      b.put('contacts', contact, encodeRecord({ ...c, nextSeq: c.nextSeq + 1 }))
      b.put('history', hkey, encodeRecord(history))
      b.put('seen', id, encodeRecord({ v: 1, at: sentAt, history: hkey }))
      b.put('outbox', id, encodeRecord(withEntry))
    }
    // With a session at hand, encrypt now: the history, dedup and outbox records and the session update are one
    // durable batch (one sync instead of two). Otherwise queue the payload; the first attempt sets up a session.
    const address = this.core.online ? await this.core.peers.currentAddress(c) : undefined
    if (address !== undefined) {
      let encrypted: OutboxRecord = entry
      let settled: (() => void) | undefined
      this.pendingSends.set(id, {
        contact,
        write: (b, sent) => {
          encrypted = { ...entry, ciphertext: toHex(sent.ciphertext), address: sent.address }
          writeRecords(b, encrypted)
        },
        onQueued: () => {
          // The overlay holds this commit's writes now: the contact's next send may start (early release).
          settled = this.queuedSends.queued(contact)
          release()
        }
      })
      try {
        await this.core.manager.encrypt(address, payload, { messageId: fromHex(id) })
        return encrypted
      } catch (e) {
        // A session unanswered for too long is not used again: queue the payload; the attempt starts a new one.
        if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
        await this.core.manager.archiveCurrentSession(address)
      } finally {
        this.pendingSends.delete(id)
        settled?.()
      }
    }
    // A plain commit, its writes not in the overlay: the earlier sends settle first, so none of their overlay entries
    // can shadow these writes afterwards.
    await this.settled(contact)
    const b = this.core.store.batch()
    writeRecords(b, entry)
    await b.commit()
    return entry
  }

  /**
   * Resolves once every text of `contact` whose commit send() queued before releasing the lock has settled (durable
   * or failed). Core.locked waits for this (see QueuedSends in crypto-store.ts).
   */
  settled(contact: string): Promise<void> {
    return this.queuedSends.settled(contact)
  }

  /**
   * Queues a payload that is not a text (a receipt, a deposit token, a resend request) in the durable outbox and tries
   * it at once; `also` adds writes to the same batch. Control traffic goes only to contacts, carries no text number
   * (texts stay numbered without holes), has its own bound — past MAX_CONTROL_QUEUE the oldest is dropped — and
   * expires after CONTROL_TTL_MS: it can never make the user's own sending fail.
   */
  async queueControl(
    contact: string,
    kind: 'receipt' | 'token' | 'resend',
    build: (senderSeq: number) => PayloadInit,
    also?: (b: ProfileBatch<Namespace>) => void
  ): Promise<void> {
    await this.core.contacts.contact(contact)
    const now = this.core.now()
    const entry: OutboxRecord = {
      v: 1,
      id: toHex(this.core.backend.randomBytes(16)),
      contact,
      kind,
      payload: toHex(encodePaddedPayload(build(0))),
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now
    }
    const b = this.core.store.batch()
    b.put('outbox', entry.id, encodeRecord(entry))
    const overflow = this.schedule.oldestControls(this.schedule.controls + 1 - this.core.maxControl)
    for (const old of overflow) b.delete('outbox', old.id)
    also?.(b)
    await b.commit()
    for (const old of overflow) this.schedule.delete(old.id)
    this.scheduleEntry(entry)
    if (this.core.online) await this.delivery.attempt(entry).catch(() => false)
  }

  /** Puts an outbox entry (as written) on the schedule. */
  scheduleEntry(e: OutboxRecord): void {
    this.schedule.set({
      id: e.id,
      contact: e.contact,
      kind: e.kind,
      createdAt: e.createdAt,
      nextAttemptAt: e.nextAttemptAt
    })
  }
  /** One retry round over what is due (outbox-retry.ts). */
  retryLoop(): Promise<void> {
    return this.retries.retryLoop()
  }

  /** Makes a contact's queued entries due now (its device just connected) and starts a retry round. */
  dueNow(contact: string): void {
    this.retries.dueNow(contact)
  }

  /** Retries every queued message now (e.g. after the network came back). */
  flush(): Promise<void> {
    return this.retries.flush()
  }
}
