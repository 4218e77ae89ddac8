/**
 * Sequence gaps: each contact numbers its texts to us 0, 1, 2, … with no holes (control messages carry no text
 * number), so a number missing below one that arrived is a message that has not arrived yet — or never will (a relay
 * dropped it, a deposit was lost). Per contact we keep the next number expected and the numbers received above it;
 * a gap older than the grace period is asked for again (a `resend` payload over the session), and the sender resends
 * from its own copy. After MAX_RESEND_ASKS asks a number is given up, so a peer that never answers (an old client,
 * whose receipts used numbers too) costs a bounded amount of work.
 */

import { MAX_TRACKED_AHEAD } from './constants.ts'
import { encodeRecord, type ProfileReader, type RecordBatch } from './records.ts'

/** What we know of one contact's text numbers. */
export interface SequenceState {
  readonly v: 1
  /** The lowest number not yet received. */
  readonly next: number
  /** Numbers received above `next`, ascending. */
  readonly ahead: readonly number[]
  /** When the current gap opened (absent: no gap). */
  readonly gapSince?: number
}

const key = (identity: string) => `seq/${identity}`

export async function readSequence(store: ProfileReader, identity: string): Promise<SequenceState | undefined> {
  const bytes = await store.get('meta', key(identity))
  if (bytes === undefined) return undefined
  const r = JSON.parse(new TextDecoder().decode(bytes)) as SequenceState
  return r.v === 1 && Number.isSafeInteger(r.next) && Array.isArray(r.ahead) ? r : undefined
}

export function writeSequence(b: RecordBatch, identity: string, state: SequenceState): void {
  b.put('meta', key(identity), encodeRecord(state))
}

/** The state after text number `seq` arrived (`now` opens a gap's clock). */
export function receivedNumber(state: SequenceState | undefined, seq: number, now: number): SequenceState {
  const s = state ?? { v: 1, next: 0, ahead: [] }
  if (seq < s.next || s.ahead.includes(seq)) return s
  let next = s.next
  let ahead = [...s.ahead, seq].sort((a, b) => a - b)
  if (seq === next) {
    next++
    while (ahead[0] !== undefined && ahead[0] <= next) {
      if (ahead[0] === next) next++
      ahead = ahead.slice(1)
    }
    ahead = ahead.filter((n) => n > next)
  }
  // Bounded: past the cap, the lowest numbers ahead are treated as the new floor (older gaps are given up).
  if (ahead.length > MAX_TRACKED_AHEAD) {
    const cut = ahead.length - MAX_TRACKED_AHEAD
    next = ahead[cut - 1]! + 1
    ahead = ahead.slice(cut)
  }
  const gapSince = ahead.length === 0 ? undefined : next === s.next ? (s.gapSince ?? now) : now
  return { v: 1, next, ahead, ...(gapSince !== undefined && { gapSince }) }
}

/** The numbers missing below the highest received one (at most `max`). */
export function missingNumbers(state: SequenceState, max: number): number[] {
  const out: number[] = []
  const top = state.ahead[state.ahead.length - 1]
  if (top === undefined) return out
  for (let n = state.next; n < top && out.length < max; n++) if (!state.ahead.includes(n)) out.push(n)
  return out
}

/** The state after giving up on the numbers in `gone` (never coming): the floor moves past them. */
export function giveUp(state: SequenceState, gone: readonly number[], now: number): SequenceState {
  let s: SequenceState = state
  for (const n of [...gone].sort((a, b) => a - b)) s = receivedNumber(s, n, now)
  return s
}
