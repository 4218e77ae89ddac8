/**
 * Per-sender order and exactly-once display of group texts. Each sender numbers its group messages 1, 2, 3, … across
 * epochs; a member shows sender X's message n only after n - 1 (held above a gap, at most GROUP_MAX_HELD_PER_SENDER,
 * for at most GROUP_GAP_WAIT_MS while a sync asks other members for the gap), and never shows a message id twice
 * (a text re-sent after its epoch lost a fork carries the same id and number). A gap that outlives the wait is
 * skipped; if the missing message still arrives it is shown late, once, flagged `late`.
 */
import { GROUP_GAP_WAIT_MS, GROUP_MAX_DELIVERED_IDS, GROUP_MAX_HELD_PER_SENDER } from './constants.ts'

/** One decrypted group message, ready to order. */
export interface Ordered<T> {
  readonly sender: string
  readonly id: string
  readonly seq: number
  readonly value: T
}

interface SenderLine<T> {
  next: number
  held: Map<number, Ordered<T>>
  gapSince?: number
}

/** Orders one group's messages per sender. */
export class SenderOrder<T> {
  private readonly lines = new Map<string, SenderLine<T>>()
  private readonly shown = new Set<string>()
  private readonly now: () => number

  constructor(now: () => number) {
    this.now = now
  }

  /** Where a sender's numbering starts for us (a member added after us starts at 1; at join, the adder's view). */
  expect(sender: string, next: number): void {
    const line = this.lines.get(sender)
    if (line === undefined) this.lines.set(sender, { next, held: new Map() })
    else if (line.held.size === 0 && next > line.next) line.next = next
  }

  /** The next number we wait for from each sender (what a Welcome we send tells the joiner). */
  positions(): Map<string, number> {
    return new Map([...this.lines].map(([s, l]) => [s, l.next]))
  }

  /**
   * Takes one message; returns the messages now shown, in order (each with `late` when shown after its gap was
   * skipped). A message already shown, or numbered below what was shown, returns nothing.
   */
  add(m: Ordered<T>): Array<Ordered<T> & { late?: boolean }> {
    if (this.shown.has(m.id)) return []
    let line = this.lines.get(m.sender)
    if (line === undefined) {
      line = { next: 1, held: new Map() }
      this.lines.set(m.sender, line)
    }
    if (m.seq < line.next) {
      // Below what we showed: a message from a skipped gap, shown once, late.
      this.remember(m.id)
      return [{ ...m, late: true }]
    }
    if (line.held.has(m.seq)) return []
    if (line.held.size >= GROUP_MAX_HELD_PER_SENDER && m.seq !== line.next) return []
    line.held.set(m.seq, m)
    const out = this.flush(line)
    if (line.held.size > 0 && line.gapSince === undefined) line.gapSince = this.now()
    if (line.held.size === 0) line.gapSince = undefined
    return out
  }

  /** Senders with a gap (for a sync), and the messages shown because their gap waited longer than GROUP_GAP_WAIT_MS. */
  expire(): { gaps: string[]; shown: Ordered<T>[] } {
    const gaps: string[] = []
    const shown: Ordered<T>[] = []
    const now = this.now()
    for (const [sender, line] of this.lines) {
      if (line.held.size === 0 || line.gapSince === undefined) continue
      if (now - line.gapSince < GROUP_GAP_WAIT_MS) {
        gaps.push(sender)
        continue
      }
      line.next = Math.min(...line.held.keys())
      shown.push(...this.flush(line))
      line.gapSince = line.held.size > 0 ? now : undefined
    }
    return { gaps, shown }
  }

  /** True when nothing is held above a gap. */
  get settled(): boolean {
    for (const line of this.lines.values()) if (line.held.size > 0) return false
    return true
  }

  private flush(line: SenderLine<T>): Ordered<T>[] {
    const out: Ordered<T>[] = []
    for (let m = line.held.get(line.next); m !== undefined; m = line.held.get(line.next)) {
      line.held.delete(line.next)
      line.next++
      if (this.shown.has(m.id)) continue
      this.remember(m.id)
      out.push(m)
    }
    return out
  }

  private remember(id: string): void {
    this.shown.add(id)
    if (this.shown.size > GROUP_MAX_DELIVERED_IDS) {
      const oldest = this.shown.values().next().value
      if (oldest !== undefined) this.shown.delete(oldest)
    }
  }
}
