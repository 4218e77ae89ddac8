/**
 * What to do once a received message is durable: show texts in each sender's order (one above a gap waits, at most
 * the grace period), send receipts back, give deposit tokens, hand resend requests, receipts, typing, call signals
 * and group control to their modules; mail announced per mailbox page; the markers of announced texts forgotten in
 * batches, and what a crash left unannounced announced once at the next start.
 */
import { ANNOUNCED_FLUSH_MS, MAX_CACHED_FLOORS, MAX_GAP_HOLD_MS } from './constants.ts'
import { type Core, log } from './core.ts'
import { readSequence } from './gaps.ts'
import type { ReceivedContext, ReceivedOutcome } from './received.ts'
import { decodeHistory, UNANNOUNCED } from './records.ts'
import { enforceRequestBounds } from './requests.ts'

type TextOutcome = Extract<ReceivedOutcome, { kind: 'text' }>

export class Announcements {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
  }

  /** What a mailbox page delivered, announced when the page is done (announceDrained). */
  drained: ReceivedOutcome[] = []

  /** Announces what a mailbox page delivered: texts in each sender's order, then everything else as it came. */
  announceDrained(): void {
    const page = this.drained
    this.drained = []
    const seq = (o: ReceivedOutcome) => (o.kind === 'text' ? o.senderSeq : Number.MAX_SAFE_INTEGER)
    const sentAt = (o: ReceivedOutcome) => (o.kind === 'text' ? o.sentAt : 0)
    const ordered = [...page].sort((x, y) => {
      if (x.kind !== 'text' || y.kind !== 'text' || x.contact !== y.contact) return 0
      return seq(x) - seq(y) || sentAt(x) - sentAt(y)
    })
    for (const outcome of ordered) this.react(outcome)
  }

  /** What to do once a received message is durable: show it, send receipts back, give a deposit token. */
  react(outcome: ReceivedOutcome, context?: ReceivedContext): void {
    switch (outcome.kind) {
      case 'text': {
        const { contact, id, request } = outcome
        if (request) {
          this.announce(outcome)
          // No receipt, no token, no contact: a message request, within its bounds (the oldest dropped past them).
          void enforceRequestBounds(
            this.core.contacts.requestStore(),
            this.core.contacts.requestEffects,
            this.core.requestLimits,
            contact
          ).catch((e: Error) => log('bounding message requests failed: %s', e.message))
          return
        }
        this.inOrder(outcome)
        // Over the session stream our Ack is the delivery receipt; mail and single DM streams get an E2EE one.
        if (context?.acked !== true) this.core.receipts.queueDeliveredReceipt(contact, id)
        if (outcome.gap) {
          if (!this.core.resends.gaps.has(contact)) this.core.resends.gaps.set(contact, new Map())
        }
        void this.core.receipts
          .giveDepositToken(contact)
          .catch((e: Error) => log('giving a deposit token failed: %s', e.message))
        return
      }
      case 'resend':
        void this.core.resends
          .resendFor(outcome.contact, outcome.seqs, outcome.ids)
          .catch((e: Error) => log('resending failed: %s', e.message))
        return
      case 'receipt':
        this.core.events.emit('receipt', { contact: outcome.contact, type: outcome.type, ids: outcome.ids })
        return
      case 'typing':
        this.core.events.emit('typing', { contact: outcome.contact, active: outcome.active })
        return
      case 'call-signal':
        this.core.events.emit('call-signal', {
          contact: outcome.contact,
          signal: outcome.signal,
          sentAt: outcome.sentAt
        })
        return
      case 'group-control':
        void this.core.groups
          ?.onControl(outcome.contact, outcome.control)
          .catch((e: Error) => log('group control failed: %s', e.message))
        return
      case 'request-control':
      case 'none':
        return
    }
  }

  /** Announced texts whose markers are still to be deleted (in one batch, soon). */
  toForget: string[] = []

  /**
   * The `message` event for this text was emitted: its marker goes, with every other one announced within
   * ANNOUNCED_FLUSH_MS, in one write (a marker left by a crash in between means one more announcement, never none).
   */
  announced(contact: string, id: string): void {
    this.toForget.push(`${UNANNOUNCED}${contact}/${id}`)
    if (this.toForget.length > 1) return
    setTimeout(() => {
      const keys = this.toForget
      this.toForget = []
      const b = this.core.store.batch()
      for (const key of keys) b.delete('meta', key)
      // Relaxed (no fsync of its own): a marker a crash keeps means one more announcement, flagged as replayed.
      b.commit({ durability: 'relaxed' }).catch((e: Error) => log('forgetting announced markers failed: %s', e.message))
    }, ANNOUNCED_FLUSH_MS)
  }

  /** Markers a crash left (found at start): announced to the first `message` listener. */
  leftovers: string[] = []

  /** At start: the texts a previous run stored but never announced. */
  async loadLeftovers(): Promise<void> {
    for await (const { key } of this.core.store.query('meta', { prefix: UNANNOUNCED })) this.leftovers.push(key)
  }

  /**
   * Announces what a crash left stored but unannounced, in each sender's order, once: to the first `message`
   * listener (apps attach theirs right after start resolves). A contact's text above a gap that is still open waits
   * for it like any other (inOrder), flagged `replayed` when it is shown.
   */
  async announcePending(): Promise<void> {
    const keys = this.leftovers
    this.leftovers = []
    const pending: Array<{ key: string; hkey: string }> = []
    for (const key of keys) {
      const value = await this.core.store.get('meta', key)
      if (value !== undefined) pending.push({ key, hkey: new TextDecoder().decode(value) })
    }
    pending.sort((x, y) => (x.hkey < y.hkey ? -1 : x.hkey > y.hkey ? 1 : 0))
    const floors = new Map<string, number>()
    for (const { key, hkey } of pending) {
      const bytes = await this.core.store.get('history', hkey)
      if (bytes === undefined) {
        await this.core.store.delete('meta', key)
        continue
      }
      const h = decodeHistory(bytes)
      const request = (await this.core.store.get('contacts', h.contact)) === undefined
      const { contact, id, text, senderSeq, sentAt } = h
      if (!floors.has(contact)) floors.set(contact, (await readSequence(this.core.store, contact))?.next ?? 0)
      const next = floors.get(contact)!
      const outcome: TextOutcome = { kind: 'text', contact, id, text, senderSeq, sentAt, request, gap: true, next }
      if (!request && senderSeq >= next) this.inOrder(outcome, true)
      else this.announce(outcome, true)
    }
  }

  /** Per contact, the highest text-number floor seen in a commit (bounded; see inOrder). */
  readonly floors = new Map<string, number>()

  /**
   * A contact's texts that arrived above a gap, held back until the gap fills (or for at most the grace period;
   * `replayed`: stored by a previous run, which did not get to announce it).
   */
  readonly heldBack = new Map<string, Array<{ outcome: TextOutcome; since: number; replayed?: boolean }>>()

  /** Emits a text's `message` event and forgets its marker. */
  announce(outcome: TextOutcome, replayed?: boolean): void {
    const { contact, id, text, senderSeq, sentAt, request } = outcome
    this.core.events.emit('message', {
      contact,
      id,
      text,
      senderSeq,
      sentAt,
      ...(request && { request }),
      ...(replayed === true && { replayed })
    })
    this.announced(contact, id)
  }

  /**
   * Shows a contact's texts in the order they were sent: one above a gap (a message still in a mailbox, or lost in a
   * crash and being resent) waits until the gap fills; at most `gapGraceMs` — MAX_GAP_HOLD_MS while the sender's
   * connected device is asked for the gap — after which it is shown anyway (see releaseHeld). It is stored either way:
   * only the announcement waits.
   */
  inOrder(outcome: TextOutcome, replayed?: boolean): void {
    const held = this.heldBack.get(outcome.contact) ?? []
    // The floor as of the latest commit (announcements may come after several commits, e.g. a mailbox page).
    const next = Math.max(outcome.next, this.floors.get(outcome.contact) ?? 0)
    this.floors.set(outcome.contact, next)
    if (this.floors.size > MAX_CACHED_FLOORS) this.floors.delete(this.floors.keys().next().value!)
    if (outcome.senderSeq >= next) {
      held.push({ outcome, since: this.core.now(), ...(replayed === true && { replayed }) })
      this.heldBack.set(outcome.contact, held)
      return
    }
    this.announce(outcome, replayed)
    const ready = held.filter((h) => h.outcome.senderSeq < next)
    const rest = held.filter((h) => h.outcome.senderSeq >= next)
    for (const h of ready.sort((x, y) => x.outcome.senderSeq - y.outcome.senderSeq))
      this.announce(h.outcome, h.replayed)
    if (rest.length === 0) this.heldBack.delete(outcome.contact)
    else this.heldBack.set(outcome.contact, rest)
  }

  /**
   * Shows held texts older than the grace period, in order (the gap they wait on was asked for, or given up). A
   * contact in `awaiting` (its gap asked for, its device connected: the answer is on the way) keeps its texts held up
   * to MAX_GAP_HOLD_MS, so a resend that comes after the grace period still fills the gap before them.
   */
  releaseHeld(awaiting: ReadonlySet<string> = new Set()): void {
    const now = this.core.now()
    const hold = Math.max(this.core.gapGraceMs, MAX_GAP_HOLD_MS)
    for (const [contact, held] of [...this.heldBack]) {
      const limit = awaiting.has(contact) ? hold : this.core.gapGraceMs
      if (!held.some((h) => now - h.since >= limit)) continue
      this.heldBack.delete(contact)
      for (const h of held.sort((x, y) => x.outcome.senderSeq - y.outcome.senderSeq))
        this.announce(h.outcome, h.replayed)
    }
  }
}
