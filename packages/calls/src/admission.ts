/**
 * Which calls may exist at once: one call at a time, or up to MAX_CONCURRENT_CALLS legs of one mesh call; the glare
 * tie-break when two people call each other at the same moment; and which members of a mesh call we dial ourselves.
 * Decisions over the engine's running calls only: the engine acts on them.
 */
import { MAX_CONCURRENT_CALLS } from './constants.ts'
import { BusyError, TooManyCallsError } from './errors.ts'
import { isLive } from './machine.ts'
import { type CallRecord, compareBytes } from './record.ts'

/** Throws BusyError (or TooManyCallsError) unless a new call (of mesh call `group`) may start now. */
export function admit(calls: Iterable<CallRecord>, group: string | undefined): void {
  const live = [...calls].filter((r) => isLive(r.state))
  if (live.length === 0) return
  if (group === undefined || live.some((r) => r.group?.id !== group)) throw new BusyError()
  if (live.length >= MAX_CONCURRENT_CALLS) throw new TooManyCallsError(MAX_CONCURRENT_CALLS)
}

/** Our own call still ringing `contact`, which an offer from `contact` collides with. */
export function glareRival(calls: Iterable<CallRecord>, contact: string): CallRecord | undefined {
  return [...calls].find((r) => r.contact === contact && r.role === 'caller' && r.state.phase === 'outgoing')
}

/** Glare: the higher call id wins on both sides; true when our call beats the offer's `callId`. */
export function winsGlare(mine: CallRecord, callId: Uint8Array): boolean {
  return compareBytes(mine.id, callId) > 0
}

/** We already joined mesh call `group` through a leg other than `rec` (so `rec` is answered at once). */
export function joinedMesh(calls: Iterable<CallRecord>, rec: CallRecord, group: string): boolean {
  return [...calls].some((r) => r !== rec && r.group?.id === group && r.state.phase !== 'incoming')
}

/**
 * In a mesh, of each pair of invited members the one with the higher identity key calls the other. For member `m` of
 * `group`: the members to name in our call to `m`, or undefined when we do not call `m` (it calls us, or a call runs).
 */
export function meshLeg(
  calls: Iterable<CallRecord>,
  self: string,
  group: { id: string; members: string[] },
  m: string
): string[] | undefined {
  if (m <= self) return undefined
  const all = [...calls]
  if (all.some((r) => r.contact === m && r.group?.id === group.id)) return undefined
  const callers = all.filter((r) => r.group?.id === group.id && r.role === 'callee').map((r) => r.contact)
  return [...group.members.filter((x) => x !== m), ...callers]
}
