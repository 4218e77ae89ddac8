/**
 * The outbox and delivery: send() and control messages queued durably, each attempt over the session stream (or a
 * deposit at the mailbox relays when the device is unreachable), retry rounds from the in-memory schedule.
 */
import {
  deviceAddress,
  fromHex,
  ParleyCryptoError,
  type ProtocolTransaction,
  sealToDevice,
  toHex
} from '@parley/crypto'
import { type ConnectionKind, depositAtRelays, isNetworkError } from '@parley/network'
import type { ProfileBatch } from '@parley/store'
import { type Ack, encodeEnvelope, encodePaddedPayload, type PayloadInit } from '@parley/wire'
import {
  CONTROL_TTL_MS,
  DEFAULT_DIAL_TIMEOUT,
  MAX_DEPOSIT_RELAYS,
  MAX_TEXT_BYTES,
  RETRY_FACTOR,
  RETRY_INITIAL_MS,
  RETRY_MAX_MS,
  RETRY_ROUND_MAX
} from './constants.ts'
import { type Core, log, RESET_CODES, type SendResult } from './core.ts'
import { QueuedSends, QueuedWrites } from './crypto-store.ts'
import { IdentityChangedError, InvalidInputError, OutboxFullError, PeerProtocolError } from './errors.ts'
import { OutboxSchedule } from './outbox-schedule.ts'
import {
  type ContactRecord,
  DELIVERY_RANK,
  decodeContact,
  decodeHistory,
  decodeOutbox,
  decodeSeen,
  encodeRecord,
  type HistoryRecord,
  historyKey,
  type Namespace,
  type OutboxRecord,
  TOKEN_IN
} from './records.ts'
import { SessionStreams } from './session-stream.ts'

export class Outbox {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** Our session streams to peers (session-stream.ts), each knowing the kind of connection it runs on. */
  readonly streams = new SessionStreams((peer, stream) =>
    this.core.node?.getConnections(peer).find((c) => c.streams.includes(stream))
  )

  /** Every outbox entry's kind and due time (outbox-schedule.ts). */
  readonly schedule = new OutboxSchedule()

  retrying = false

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

  /** Outbox entries with a delivery attempt in progress (the retry loop leaves them alone). */
  readonly attempting = new Set<string>()

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
    this.scheduleEntry(outbox)
    const outcome = this.core.online ? await this.attempt(outbox, options).catch(() => false as const) : false
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
    if (this.core.online) await this.attempt(entry).catch(() => false)
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

  /** One delivery attempt of an outbox entry, unless one is already running for it. */
  async attempt(entry: OutboxRecord, options: { signal?: AbortSignal } = {}): Promise<'sent' | 'deposited' | false> {
    if (this.attempting.has(entry.id)) return false
    this.attempting.add(entry.id)
    try {
      return await this.attemptOnce(entry, options)
    } catch (e) {
      // No record to find the device by (never published, or expired): say so in diagnostics().
      if (isNetworkError(e, 'ContactNotFound')) this.core.paths.unreachable(entry.contact, e)
      throw e
    } finally {
      this.attempting.delete(entry.id)
    }
  }

  /**
   * Encrypts if not yet, then sends over a DM stream and awaits the ack; when the device cannot be reached, deposits
   * at its mailbox relays instead.
   */
  async attemptOnce(
    entry: OutboxRecord,
    options: { signal?: AbortSignal } = {}
  ): Promise<'sent' | 'deposited' | false> {
    const signal = this.core.signal(DEFAULT_DIAL_TIMEOUT, options.signal)
    const c = await this.core.contacts.contact(entry.contact)
    if (c.status === 'identity-changed') return false
    const current =
      entry.ciphertext !== undefined
        ? entry
        : await this.core.locked(entry.contact, () => this.encryptQueued(entry, c, signal))
    // Delivered meanwhile by a concurrent attempt (the send path and the retry loop may race): nothing left to do.
    if (current === undefined) return 'sent'
    const target = await this.core.peers.resolve(await this.core.contacts.contact(entry.contact), { signal })
    let unreachable = false
    const deliver = () =>
      this.streams.deliverVia(target.peerId, fromHex(current.id), fromHex(current.ciphertext!), signal, () =>
        this.core.peers.dial(target.peerId, target.addresses, this.core.ids.session, signal).catch((e: unknown) => {
          unreachable = true
          throw e
        })
      )
    let ack: Ack
    let kind: ConnectionKind | undefined
    try {
      // A stream that broke (the peer went away, or the connection was cut) is opened again once: the frame goes out
      // again with the same bytes, and the peer answers a copy it already stored with an ok.
      ;({ ack, kind } = await deliver().catch((e: unknown) => {
        if (unreachable || signal.aborted) throw e
        return deliver()
      }))
    } catch (e) {
      if (unreachable) this.core.paths.unreachable(c.identity, e)
      // Not reachable now: its mailbox relays hold it instead.
      if (unreachable && (await this.deposit(current, c, signal))) return 'deposited'
      throw e
    }
    if (ack.status !== 'ok') {
      if (RESET_CODES.has(ack.errorCode)) {
        // The peer cannot decrypt on this session (it lost its state, or ours forked from a restore): archive it and
        // encrypt this message again on a new session at the next attempt.
        await this.core.manager.archiveCurrentSession(current.address!)
        const { ciphertext: _old, address: _addr, ...rest } = current
        const again: OutboxRecord = { ...rest, nextAttemptAt: 0 }
        await this.core.store.put('outbox', current.id, encodeRecord(again))
        if (this.schedule.has(again.id)) this.scheduleEntry(again)
      }
      throw new PeerProtocolError('dm', ack.errorCode)
    }
    this.core.paths.delivered(c.identity, kind === 'relayed' ? 'relayed' : 'direct')
    // The Ack came from the contact's device over its authenticated connection, after its durable commit.
    // (`held`: the contact holds it as a message request: stored, and no more until it accepts.)
    await this.delivered(current, undefined, ack.held === true ? 'sent' : 'delivered')
    // The device holds the session this frame started: the next messages need no initial prefix (protocol.ts).
    await this.core.manager
      .confirmDelivered(current.address!, fromHex(current.ciphertext!))
      .catch((e: Error) => log('confirming the session failed: %s', e.message))
    return 'sent'
  }

  /**
   * Deposits an encrypted outbox entry at the contact's mailbox relays (from a courier, with our device address sealed
   * to the contact's device inside). True when at least one relay stored it durably: it then leaves the outbox.
   */
  async deposit(entry: OutboxRecord, c: ContactRecord, signal: AbortSignal): Promise<boolean> {
    if (this.core.courierFactory === undefined || entry.ciphertext === undefined) return false
    let device = await this.core.peers.device(c.identity)
    if (device?.relays === undefined || device.agreementKey === undefined) {
      await this.core.peers.resolve(c, { signal, fresh: true }).catch(() => undefined)
      device = await this.core.peers.device(c.identity)
    }
    // Only for the device this ciphertext was made for.
    if (device === undefined || entry.address !== deviceAddress(fromHex(c.identity), fromHex(device.deviceKey))) {
      return false
    }
    const relays = (device.relays ?? []).slice(0, MAX_DEPOSIT_RELAYS)
    if (relays.length === 0 || device.agreementKey === undefined) return false
    const depositToken = await this.core.store.get('meta', `${TOKEN_IN}${c.identity}`)
    const sender = this.core.manager.account
    const senderAddress = new Uint8Array([...sender.identity.publicKey, ...sender.device.certificate.deviceKey])
    const envelope = encodeEnvelope({
      messageId: fromHex(entry.id),
      ciphertext: fromHex(entry.ciphertext),
      sealedSender: await sealToDevice(this.core.backend, fromHex(device.agreementKey), senderAddress)
    })
    const stored = await depositAtRelays(
      this.core.courierFactory,
      this.core.ids.mailbox,
      relays,
      { recipient: fromHex(c.identity), envelope, depositToken },
      signal,
      log
    )
    if (stored.length === 0) return false
    await this.delivered(entry, stored)
    this.core.paths.delivered(c.identity, 'mailbox')
    return true
  }

  /** Encrypts a queued payload (starting a session first if there is none); the commit stores the ciphertext. */
  async encryptQueued(entry: OutboxRecord, c: ContactRecord, signal: AbortSignal): Promise<OutboxRecord | undefined> {
    const latest = await this.core.store.get('outbox', entry.id)
    if (latest === undefined) return undefined
    const fresh = decodeOutbox(latest)
    if (fresh.ciphertext !== undefined) return fresh
    const deviceKey =
      (await this.core.peers.device(c.identity))?.deviceKey ??
      toHex((await this.core.peers.resolve(c, { signal })).deviceKey)
    let address = deviceAddress(fromHex(c.identity), fromHex(deviceKey))
    if ((await this.core.manager.sessionInfo(address)) === undefined)
      address = await this.core.peers.startSession(c, signal)
    this.pendingSends.set(entry.id, { contact: entry.contact })
    try {
      // The commit (adapter below) writes the session update and this ciphertext into the outbox in one batch.
      await this.core.manager.encrypt(address, fromHex(fresh.payload!), { messageId: fromHex(entry.id) })
    } catch (e) {
      // Unanswered for too long (StaleSessionError): that session is not used again; a new one carries the message.
      if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
      await this.core.manager.archiveCurrentSession(address)
      address = await this.core.peers.startSession(c, signal)
      await this.core.manager.encrypt(address, fromHex(fresh.payload!), { messageId: fromHex(entry.id) })
    } finally {
      this.pendingSends.delete(entry.id)
    }
    const stored = await this.core.store.get('outbox', entry.id)
    return stored === undefined ? undefined : decodeOutbox(stored)
  }

  /**
   * The message left our hands: the peer stored it (`sent`), or mailbox relays hold it for the peer (`deposited`,
   * naming them). It leaves the outbox; a pending history entry moves to that state.
   */
  async delivered(entry: OutboxRecord, relays?: string[], reached: 'sent' | 'delivered' = 'sent'): Promise<void> {
    if (!this.schedule.has(entry.id)) return
    const state = relays === undefined ? reached : 'deposited'
    const b = this.core.store.batch()
    b.delete('outbox', entry.id)
    if (entry.kind === 'text') {
      const seen = await this.core.store.get('seen', entry.id)
      const hkey = seen && decodeSeen(seen).history
      const h = hkey && (await this.core.store.get('history', hkey))
      if (hkey && h) {
        const { waitingAt: _relays, ...rec } = decodeHistory(h)
        // Only forward (a resent message may be `deposited` already, or past `sent` by a receipt).
        if (DELIVERY_RANK[state] > DELIVERY_RANK[rec.state]) {
          b.put('history', hkey, encodeRecord({ ...rec, state, ...(relays !== undefined && { waitingAt: relays }) }))
        }
      }
    }
    // Relaxed (no fsync of its own): the message is already durable at the peer or its relays. A crash that loses
    // this write leaves the entry in the outbox: it is sent once more, the peer answers its copy with an ok (dedup by
    // id), and the state converges — one repeat, never a loss.
    await b.commit({ durability: 'relaxed' })
    if (!this.schedule.delete(entry.id)) return
    if (entry.kind === 'text') {
      // Over the session stream, stored by the device is delivered: both are announced, in order.
      if (state === 'delivered')
        this.core.events.emit('receipt', { contact: entry.contact, type: 'sent', ids: [entry.id] })
      this.core.events.emit('receipt', {
        contact: entry.contact,
        type: state,
        ids: [entry.id],
        ...(relays && { relays })
      })
    }
  }

  /**
   * One retry round over what is due (from the in-memory schedule: only due entries are read and decrypted), oldest
   * first. A contact whose attempt failed is skipped for the rest of the round (its other entries fail the same way),
   * and expired control messages are dropped.
   */
  async retryLoop(): Promise<void> {
    if (this.retrying) return
    this.retrying = true
    try {
      const now = this.core.now()
      const failed = new Set<string>()
      for (const due of this.schedule.due(now, RETRY_ROUND_MAX)) {
        if (this.core.shutdown.signal.aborted) return
        if (this.attempting.has(due.id)) continue
        if (due.kind !== 'text' && now - due.createdAt > CONTROL_TTL_MS) {
          await this.core.store.delete('outbox', due.id)
          this.schedule.delete(due.id)
          continue
        }
        const raw = await this.core.store.get('outbox', due.id)
        if (raw === undefined) {
          this.schedule.delete(due.id)
          continue
        }
        const e = decodeOutbox(raw)
        try {
          if (failed.has(e.contact)) throw new PeerProtocolError('dm', 'unreachable this round')
          await this.attempt(e)
        } catch (err) {
          failed.add(e.contact)
          log('retry of %s failed: %s', e.id, (err as Error).message)
          const latest = await this.core.store.get('outbox', e.id)
          if (latest === undefined) continue
          const cur = decodeOutbox(latest)
          const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * RETRY_FACTOR ** cur.attempts)
          const next: OutboxRecord = { ...cur, attempts: cur.attempts + 1, nextAttemptAt: this.core.now() + delay }
          await this.core.store.put('outbox', e.id, encodeRecord(next))
          if (this.schedule.has(e.id)) this.scheduleEntry(next)
        }
      }
    } finally {
      this.retrying = false
      this.core.later(() => this.retryLoop(), RETRY_INITIAL_MS)
    }
  }

  /** Makes a contact's queued entries due now (its device just connected) and starts a retry round. */
  dueNow(contact: string): void {
    const now = this.core.now()
    const due = this.schedule.ofContact(contact).filter((e) => e.nextAttemptAt > now)
    if (due.length === 0) return
    for (const e of due) this.schedule.set({ ...e, nextAttemptAt: now })
    void this.retryLoop()
  }

  /** Retries every queued message now (e.g. after the network came back). */
  async flush(): Promise<void> {
    this.schedule.allDueAt(this.core.now())
    await this.retryLoop()
  }
}
