/**
 * Resends: a gap in a contact's text numbers that does not fill, and mail we could not open, are asked for again over
 * the session; a contact's request is answered from our own history. Also the pruning of old dedup records.
 */
import { toHex } from '@parley/crypto'
import { encodePaddedPayload, MAX_RESEND_ITEMS } from '@parley/wire'
import { DEDUP_RETENTION_MS, GAP_CHECK_INTERVAL_MS, MAX_RESEND_ASKS, SEEN_PRUNE_INTERVAL_MS } from './constants.ts'
import { type Core, log, MAX_RESENDS_PER_MINUTE, RESEND_CODES } from './core.ts'
import { giveUp, missingNumbers, readSequence, type SequenceState, writeSequence } from './gaps.ts'
import {
  decodeHistory,
  decodeOutbox,
  decodeSeen,
  encodeRecord,
  type HistoryRecord,
  type OutboxRecord
} from './records.ts'

export class Resends {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** At start: the contacts whose text numbers have an open gap (the gap loop looks at these). */
  async loadGaps(): Promise<void> {
    for await (const { key, value } of this.core.store.query('meta', { prefix: 'seq/' })) {
      const state = JSON.parse(new TextDecoder().decode(value)) as { ahead?: unknown[] }
      if (Array.isArray(state.ahead) && state.ahead.length > 0) this.gaps.set(key.slice('seq/'.length), new Map())
    }
  }

  /** Contacts whose text numbers have a gap, and how often each missing number was asked for. */
  readonly gaps = new Map<string, Map<number, number>>()

  /**
   * A contact asks us to send messages again (by text number: a gap it saw; by id: mail it could not open). Each is
   * resent from our own history with its original id and number, so the contact shows it once whatever happened.
   */
  async resendFor(contact: string, seqs: readonly number[], ids: readonly string[]): Promise<void> {
    if (!this.core.admit(`resend/${contact}`, MAX_RESENDS_PER_MINUTE)) return
    const records: HistoryRecord[] = []
    for (const seq of seqs) {
      const prefix = `${contact}/out/${String(seq).padStart(16, '0')}/`
      for await (const { value } of this.core.store.query('history', { prefix })) records.push(decodeHistory(value))
    }
    for (const id of ids) {
      const seen = await this.core.store.get('seen', id)
      const hkey = seen && decodeSeen(seen).history
      const h = hkey && (await this.core.store.get('history', hkey))
      if (h) records.push(decodeHistory(h))
    }
    for (const rec of records) {
      if (rec.direction !== 'out' || rec.contact !== contact || rec.state === 'failed') continue
      if (this.core.outbox.schedule.has(rec.id)) {
        // Still queued: if it was encrypted for a session the contact lost, a fresh encryption is what it needs.
        const raw = await this.core.store.get('outbox', rec.id)
        if (raw !== undefined) await this.requeue(decodeOutbox(raw))
        continue
      }
      if (this.core.outbox.schedule.texts >= this.core.maxOutbox) return
      const entry: OutboxRecord = {
        v: 1,
        id: rec.id,
        contact,
        kind: 'text',
        payload: toHex(
          encodePaddedPayload({ kind: 'text', senderSeq: rec.senderSeq, sentAt: rec.sentAt, text: rec.text })
        ),
        attempts: 0,
        nextAttemptAt: this.core.now(),
        createdAt: this.core.now()
      }
      await this.core.store.put('outbox', entry.id, encodeRecord(entry))
      this.core.outbox.scheduleEntry(entry)
    }
    if (records.length > 0) await this.core.outbox.retryLoop()
  }

  /** Drops an entry's ciphertext (it was for a session the contact cannot open) and makes it due now. */
  async requeue(entry: OutboxRecord): Promise<void> {
    const { ciphertext: _c, address: _a, ...rest } = entry
    const again: OutboxRecord = { ...rest, nextAttemptAt: 0 }
    await this.core.store.put('outbox', again.id, encodeRecord(again))
    this.core.outbox.scheduleEntry(again)
  }

  /**
   * Mail from `claimed` (the sealed sender: identity.device) that we could not open for a session reason (we lost the
   * session, it used a prekey we no longer have). Never silently: a contact is asked, over a new session, to resend
   * it; the relay's copy is acknowledged because the sender still has the message. Strangers are not answered.
   */
  async askToResend(claimed: string | undefined, messageId: Uint8Array, code: string): Promise<void> {
    if (claimed === undefined || !RESEND_CODES.has(code)) return
    const identity = claimed.split('.')[0]!
    if ((await this.core.store.get('contacts', identity)) === undefined) return
    log('mail %s could not be opened (%s): asking the sender to resend it', toHex(messageId), code)
    // Whatever session we hold with that device did not work for the sender: the resend request starts a new one.
    await this.core.manager.archiveCurrentSession(claimed)
    await this.core.outbox.queueControl(identity, 'resend', (senderSeq) => ({
      kind: 'resend',
      senderSeq,
      sentAt: this.core.now(),
      resend: { senderSeqs: [], messageIds: [messageId] }
    }))
  }

  /**
   * Open gaps in contacts' text numbers: once a gap is older than the grace period, the missing numbers are asked
   * for (at most MAX_RESEND_ASKS times each, then given up), one resend request per contact per grace period. Then
   * texts held back above a gap are shown once they waited the grace period (in order) — up to MAX_GAP_HOLD_MS when
   * the gap is still being asked for from a connected device, whose answer fills the gap first.
   */
  async gapLoop(): Promise<void> {
    const awaiting = new Set<string>()
    try {
      for (const [contact, asks] of [...this.gaps]) {
        if (this.core.shutdown.signal.aborted) return
        const state = await readSequence(this.core.store, contact)
        if (state === undefined || state.ahead.length === 0) {
          this.gaps.delete(contact)
          continue
        }
        if ((await this.core.store.get('contacts', contact)) === undefined) continue
        const after = await this.askForGap(contact, state, asks)
        if (this.answerAwaited(after, asks) && (await this.deviceConnected(contact))) awaiting.add(contact)
      }
    } catch (e) {
      log('gap check failed: %s', (e as Error).message)
    } finally {
      if (!this.core.shutdown.signal.aborted) this.core.announcements.releaseHeld(awaiting)
      this.core.later(() => this.gapLoop(), GAP_CHECK_INTERVAL_MS)
    }
  }

  /**
   * Once a contact's gap is older than the grace period (or than its last ask): numbers asked MAX_RESEND_ASKS times
   * are given up, the others asked for in one resend request. Returns the sequence state after any give-up.
   */
  async askForGap(contact: string, state: SequenceState, asks: Map<number, number>): Promise<SequenceState> {
    const now = this.core.now()
    const lastAsk = asks.get(-1) ?? 0
    if (state.gapSince === undefined || now - Math.max(state.gapSince, lastAsk) < this.core.gapGraceMs) return state
    const missing = missingNumbers(state, MAX_RESEND_ITEMS)
    const gone = missing.filter((n) => (asks.get(n) ?? 0) >= MAX_RESEND_ASKS)
    let after = state
    if (gone.length > 0) {
      after = giveUp(state, gone, now)
      const b = this.core.store.batch()
      writeSequence(b, contact, after)
      await b.commit()
      for (const n of gone) asks.delete(n)
    }
    const ask = missing.filter((n) => (asks.get(n) ?? 0) < MAX_RESEND_ASKS)
    if (ask.length === 0) return after
    for (const n of ask) asks.set(n, (asks.get(n) ?? 0) + 1)
    asks.set(-1, now)
    log('asking %s to resend %d missing messages', contact.slice(0, 8), ask.length)
    await this.core.outbox.queueControl(contact, 'resend', (senderSeq) => ({
      kind: 'resend',
      senderSeq,
      sentAt: now,
      resend: { senderSeqs: ask, messageIds: [] }
    }))
    return after
  }

  /**
   * Whether the gap may still fill by an answer: a missing number is yet to be asked for, or the last ask is younger
   * than the grace period (it is answered within that, or asked again).
   */
  answerAwaited(state: SequenceState, asks: ReadonlyMap<number, number>): boolean {
    if (state.ahead.length === 0) return false
    const lastAsk = asks.get(-1)
    if (lastAsk !== undefined && this.core.now() - lastAsk < this.core.gapGraceMs) return true
    return missingNumbers(state, MAX_RESEND_ITEMS).some((n) => (asks.get(n) ?? 0) < MAX_RESEND_ASKS)
  }

  /** Whether the contact's device has an open connection to us (our resend request reaches it, its answer comes). */
  async deviceConnected(contact: string): Promise<boolean> {
    const node = this.core.node
    const device = await this.core.peers.device(contact)
    if (node === undefined || device === undefined) return false
    return node.getConnections(this.core.peers.peerIdOf(device.deviceKey)).some((c) => c.status === 'open')
  }

  async pruneLoop(): Promise<void> {
    await this.pruneSeen().catch((e: Error) => log('pruning dedup records failed: %s', e.message))
    this.core.later(() => this.pruneLoop(), SEEN_PRUNE_INTERVAL_MS)
  }

  /** Prunes dedup ids older than the retention (called by the owner, e.g. daily). */
  async pruneSeen(): Promise<number> {
    const cutoff = this.core.now() - DEDUP_RETENTION_MS
    const b = this.core.store.batch()
    let n = 0
    for await (const { key, value } of this.core.store.query('seen')) {
      const s = decodeSeen(value)
      if (s.history === undefined && s.at < cutoff) {
        b.delete('seen', key)
        n++
      }
    }
    await b.commit()
    return n
  }
}
