/**
 * The outbox's schedule in memory: which entries exist, of what kind, and when each is next due. Loaded once at start
 * (one pass over the outbox) and kept in step with every write, so a retry round reads and decrypts only the entries
 * that are due — work proportional to what is due, never to the whole outbox — and the text and control counts that
 * the limits check are exact without a scan.
 */

export type OutboxKind = 'text' | 'receipt' | 'token' | 'resend'

export interface ScheduledEntry {
  readonly id: string
  readonly contact: string
  readonly kind: OutboxKind
  readonly createdAt: number
  readonly nextAttemptAt: number
}

/** Texts are the user's messages; everything else is control traffic with its own bound and expiry. */
export const isControl = (kind: OutboxKind): boolean => kind !== 'text'

/** A binary min-heap on `nextAttemptAt` (then `createdAt`, so equal times go out in the order they were written). */
export class OutboxSchedule {
  readonly #entries = new Map<string, ScheduledEntry>()
  #heap: ScheduledEntry[] = []
  #texts = 0
  #controls = 0

  get texts(): number {
    return this.#texts
  }

  get controls(): number {
    return this.#controls
  }

  get size(): number {
    return this.#entries.size
  }

  has(id: string): boolean {
    return this.#entries.has(id)
  }

  get(id: string): ScheduledEntry | undefined {
    return this.#entries.get(id)
  }

  /** Adds or reschedules an entry. */
  set(entry: ScheduledEntry): void {
    const prev = this.#entries.get(entry.id)
    if (prev === undefined) {
      if (isControl(entry.kind)) this.#controls++
      else this.#texts++
    }
    this.#entries.set(entry.id, entry)
    // The old heap slot stays and is skipped when popped (it no longer matches the map).
    this.#push(entry)
  }

  delete(id: string): boolean {
    const prev = this.#entries.get(id)
    if (prev === undefined) return false
    this.#entries.delete(id)
    if (isControl(prev.kind)) this.#controls--
    else this.#texts--
    if (this.#heap.length > 4 * this.#entries.size + 64) this.#rebuild()
    return true
  }

  /** Entries due at `now` (earliest first), at most `max`; they stay scheduled until rescheduled or deleted. */
  due(now: number, max: number): ScheduledEntry[] {
    const out: ScheduledEntry[] = []
    const keep: ScheduledEntry[] = []
    while (out.length < max && this.#heap.length > 0) {
      const top = this.#heap[0]!
      if (top.nextAttemptAt > now) break
      this.#pop()
      if (this.#entries.get(top.id) !== top) continue
      out.push(top)
      keep.push(top)
    }
    for (const e of keep) this.#push(e)
    return out
  }

  /** The oldest control entries first (for dropping past the control bound). */
  oldestControls(n: number): ScheduledEntry[] {
    if (n <= 0) return []
    return [...this.#entries.values()]
      .filter((e) => isControl(e.kind))
      .sort((a, b) => a.createdAt - b.createdAt)
      .slice(0, n)
  }

  /** Every entry for a contact (identity changes, requests accepted). */
  ofContact(contact: string): ScheduledEntry[] {
    return [...this.#entries.values()].filter((e) => e.contact === contact)
  }

  /** Makes every entry due now. */
  allDueAt(now: number): void {
    for (const e of [...this.#entries.values()]) this.set({ ...e, nextAttemptAt: Math.min(e.nextAttemptAt, now) })
  }

  #rebuild(): void {
    this.#heap = []
    for (const e of this.#entries.values()) this.#push(e)
  }

  static #before(a: ScheduledEntry, b: ScheduledEntry): boolean {
    return a.nextAttemptAt < b.nextAttemptAt || (a.nextAttemptAt === b.nextAttemptAt && a.createdAt < b.createdAt)
  }

  #push(e: ScheduledEntry): void {
    const h = this.#heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!OutboxSchedule.#before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  #pop(): void {
    const h = this.#heap
    const last = h.pop()!
    if (h.length === 0) return
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && OutboxSchedule.#before(h[l]!, h[m]!)) m = l
      if (r < h.length && OutboxSchedule.#before(h[r]!, h[m]!)) m = r
      if (m === i) return
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}
