/** The group engine's bounded bookkeeping: envelopes seen, the catch-up log, per-member rates (all named bounds). */
import {
  GROUP_HISTORY_MAX_AGE_MS,
  GROUP_HISTORY_MAX_ENVELOPES,
  GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE,
  GROUP_MAX_SEEN
} from './constants.ts'

/** Envelope hashes processed (duplicates from gossip and sync are dropped by hash); the oldest is forgotten first. */
export class SeenSet {
  private readonly set = new Set<string>()

  has(h: string): boolean {
    return this.set.has(h)
  }

  add(h: string): void {
    this.set.add(h)
    if (this.set.size > GROUP_MAX_SEEN) {
      const first = this.set.values().next().value
      if (first !== undefined) this.set.delete(first)
    }
  }
}

/** The envelopes a member keeps to serve catch-up: at most `limit` and GROUP_HISTORY_MAX_AGE_MS. */
export class EnvelopeLog {
  private readonly entries: { readonly data: Uint8Array; readonly epoch: bigint; readonly at: number }[] = []
  private readonly now: () => number
  private readonly limit: number

  constructor(now: () => number, limit = GROUP_HISTORY_MAX_ENVELOPES) {
    this.now = now
    this.limit = limit
  }

  append(data: Uint8Array, epoch: bigint): void {
    this.entries.push({ data, epoch, at: this.now() })
    this.trim()
  }

  /** Envelopes with epoch ≥ `fromEpoch`, in the order they were processed. */
  from(fromEpoch: bigint): Uint8Array[] {
    this.trim()
    return this.entries.filter((e) => e.epoch >= fromEpoch).map((e) => e.data)
  }

  private trim(): void {
    const cutoff = this.now() - GROUP_HISTORY_MAX_AGE_MS
    while (this.entries.length > this.limit || (this.entries[0] !== undefined && this.entries[0].at < cutoff)) {
      this.entries.shift()
    }
  }
}

/** Messages per member's device per minute (GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE), bounded to 10,000 devices. */
export class MemberRate {
  private readonly windows = new Map<string, { windowStart: number; count: number }>()
  private readonly now: () => number

  constructor(now: () => number) {
    this.now = now
  }

  /** Counts one message from `peer`; false when it is over the rate. */
  admit(peer: string): boolean {
    const now = this.now()
    const r = this.windows.get(peer)
    if (r === undefined || now - r.windowStart >= 60_000) {
      if (this.windows.size >= 10_000) this.windows.clear()
      this.windows.set(peer, { windowStart: now, count: 1 })
      return true
    }
    r.count++
    return r.count <= GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE
  }
}
