/**
 * One delivery attempt of an outbox entry: encrypt it if it was queued as a payload, send it as a frame on the peer's
 * session stream and await the Ack — or, when the device cannot be reached, deposit it at the contact's mailbox relays
 * — then mark it delivered (it leaves the outbox and its history entry moves on). The outbox (outbox.ts) queues; the
 * retry rounds (outbox-retry.ts) decide when an attempt runs again.
 */
import { deviceAddress, fromHex, ParleyCryptoError, sealToDevice, toHex } from '@parley/crypto'
import { type ConnectionKind, depositAtRelays, isNetworkError } from '@parley/network'
import { type Ack, encodeEnvelope } from '@parley/wire'
import { DEFAULT_DIAL_TIMEOUT, MAX_DEPOSIT_RELAYS } from './constants.ts'
import { type Core, log, RESET_CODES } from './core.ts'
import { PeerProtocolError } from './errors.ts'
import type { Outbox } from './outbox.ts'
import {
  type ContactRecord,
  DELIVERY_RANK,
  decodeHistory,
  decodeOutbox,
  decodeSeen,
  encodeRecord,
  type OutboxRecord,
  TOKEN_IN
} from './records.ts'

export class Delivery {
  private readonly core: Core
  private readonly outbox: Outbox

  constructor(core: Core, outbox: Outbox) {
    this.core = core
    this.outbox = outbox
  }

  /** Outbox entries with a delivery attempt in progress (the retry loop leaves them alone). */
  readonly attempting = new Set<string>()

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
      this.outbox.streams.deliverVia(target.peerId, fromHex(current.id), fromHex(current.ciphertext!), signal, () =>
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
        if (this.outbox.schedule.has(again.id)) this.outbox.scheduleEntry(again)
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
    this.outbox.pendingSends.set(entry.id, { contact: entry.contact })
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
      this.outbox.pendingSends.delete(entry.id)
    }
    const stored = await this.core.store.get('outbox', entry.id)
    return stored === undefined ? undefined : decodeOutbox(stored)
  }

  /**
   * The message left our hands: the peer stored it (`sent`), or mailbox relays hold it for the peer (`deposited`,
   * naming them). It leaves the outbox; a pending history entry moves to that state.
   */
  async delivered(entry: OutboxRecord, relays?: string[], reached: 'sent' | 'delivered' = 'sent'): Promise<void> {
    if (!this.outbox.schedule.has(entry.id)) return
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
    if (!this.outbox.schedule.delete(entry.id)) return
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
}
