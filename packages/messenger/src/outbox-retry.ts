/**
 * The outbox's retry rounds: what is due (from the in-memory schedule) is attempted again, oldest first, with
 * exponential backoff per entry; expired control messages are dropped; a contact whose device just connected, or a
 * flush(), makes its entries due now.
 */
import { CONTROL_TTL_MS, RETRY_FACTOR, RETRY_INITIAL_MS, RETRY_MAX_MS, RETRY_ROUND_MAX } from './constants.ts'
import { type Core, log } from './core.ts'
import { PeerProtocolError } from './errors.ts'
import type { Outbox } from './outbox.ts'
import { decodeOutbox, encodeRecord, type OutboxRecord } from './records.ts'

export class RetryRounds {
  private readonly core: Core
  private readonly outbox: Outbox

  constructor(core: Core, outbox: Outbox) {
    this.core = core
    this.outbox = outbox
  }

  retrying = false

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
      for (const due of this.outbox.schedule.due(now, RETRY_ROUND_MAX)) {
        if (this.core.shutdown.signal.aborted) return
        if (this.outbox.delivery.attempting.has(due.id)) continue
        if (due.kind !== 'text' && now - due.createdAt > CONTROL_TTL_MS) {
          await this.core.store.delete('outbox', due.id)
          this.outbox.schedule.delete(due.id)
          continue
        }
        const raw = await this.core.store.get('outbox', due.id)
        if (raw === undefined) {
          this.outbox.schedule.delete(due.id)
          continue
        }
        const e = decodeOutbox(raw)
        try {
          if (failed.has(e.contact)) throw new PeerProtocolError('dm', 'unreachable this round')
          await this.outbox.delivery.attempt(e)
        } catch (err) {
          failed.add(e.contact)
          log('retry of %s failed: %s', e.id, (err as Error).message)
          const latest = await this.core.store.get('outbox', e.id)
          if (latest === undefined) continue
          const cur = decodeOutbox(latest)
          const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * RETRY_FACTOR ** cur.attempts)
          const next: OutboxRecord = { ...cur, attempts: cur.attempts + 1, nextAttemptAt: this.core.now() + delay }
          await this.core.store.put('outbox', e.id, encodeRecord(next))
          if (this.outbox.schedule.has(e.id)) this.outbox.scheduleEntry(next)
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
    const due = this.outbox.schedule.ofContact(contact).filter((e) => e.nextAttemptAt > now)
    if (due.length === 0) return
    for (const e of due) this.outbox.schedule.set({ ...e, nextAttemptAt: now })
    void this.retryLoop()
  }

  /** Retries every queued message now (e.g. after the network came back). */
  async flush(): Promise<void> {
    this.outbox.schedule.allDueAt(this.core.now())
    await this.retryLoop()
  }
}
