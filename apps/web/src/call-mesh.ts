/**
 * Group calls in the web app: a mesh call (@parley/calls: one pair-wise call per pair, all legs naming one random mesh
 * id) seen as ONE call — one incoming dialog, one in-call screen with a tile per leg, one entry in the group
 * conversation. Pure helpers over call snapshots; `Calls` (calls.ts) keeps the per-mesh record and drives the legs.
 * The mesh id is random per call and says nothing about the chat group: the caller knows its group, a callee finds
 * it by the participants (the group whose members are exactly the caller, the members the offer names, and us).
 */
import type { CallSnapshot } from '@parley/calls/browser'
import type { ContactRecord } from '@parley/messenger'
import { MAX_CALL_PARTICIPANTS } from '@parley/wire'

/** What the app keeps about one mesh call while it runs (and until its entry is written). */
export interface MeshRecord {
  /** The mesh id (hex, from the legs' `group.id`). */
  readonly id: string
  /** We placed it ('out') or were invited ('in'). */
  readonly direction: 'out' | 'in'
  /** Video or voice, as the first leg we saw (the one that rang us, or ours). */
  readonly video: boolean
  readonly startedAt: number
  /** The chat group it belongs to (the caller knows; a callee resolves it from the participants). */
  chat?: string
  /** Everyone in the call but us (identity keys, hex). */
  readonly participants: Set<string>
  /** The first leg that rang us (its contact is shown as the caller). */
  firstContact: string
  /** When the first leg connected. */
  connectedAt?: number
  /** Why each leg ended so far. */
  readonly reasons: string[]
  /** We declined or left: legs of this mesh that ring later are declined at once. */
  left: 'declined' | 'left' | undefined
}

/** One running mesh call as the screens show it. */
export interface MeshView {
  readonly record: MeshRecord
  /** Its running legs (ringing, connecting, active), oldest first. */
  readonly legs: CallSnapshot[]
  /** Every leg still rings here (show the incoming dialog); false once we joined or placed it. */
  readonly incoming: boolean
}

/** A new record for the mesh of leg `s` (which must carry `group`). */
export function newMesh(s: CallSnapshot, now: number): MeshRecord {
  const id = s.group?.id ?? ''
  return {
    id,
    direction: s.role === 'caller' ? 'out' : 'in',
    video: s.video,
    startedAt: now,
    participants: new Set([s.contact, ...(s.group?.members ?? [])]),
    firstContact: s.contact,
    reasons: [],
    left: undefined
  }
}

/** Notes what leg `s` tells about its mesh (participants, first connection, end reason). */
export function noteLeg(m: MeshRecord, s: CallSnapshot): void {
  m.participants.add(s.contact)
  for (const x of s.group?.members ?? []) m.participants.add(x)
  if (s.connectedAt !== undefined && (m.connectedAt === undefined || s.connectedAt < m.connectedAt))
    m.connectedAt = s.connectedAt
  if (s.phase === 'ended') m.reasons.push(s.reason ?? 'hangup')
}

/** The running mesh calls among `calls`, by mesh id, legs oldest first. */
export function groupLegs(calls: readonly CallSnapshot[]): Map<string, CallSnapshot[]> {
  const out = new Map<string, CallSnapshot[]>()
  for (const c of calls) {
    if (c.group === undefined || c.phase === 'ended') continue
    const legs = out.get(c.group.id) ?? []
    legs.push(c)
    out.set(c.group.id, legs)
  }
  for (const legs of out.values()) legs.sort((a, b) => a.since - b.since)
  return out
}

/**
 * How a finished mesh call is logged: connected → `hangup` (we left) or `remote-hangup` (the others did); otherwise an
 * invited one we declined is `declined` and one we never answered `missed`; one we placed is `declined` or `busy` when
 * every leg said so, else `no-answer` (or `hangup` when we cancelled it ourselves).
 */
export function meshReason(m: MeshRecord): string {
  if (m.connectedAt !== undefined) return m.left === 'left' ? 'hangup' : 'remote-hangup'
  if (m.direction === 'in') return m.left === 'declined' ? 'declined' : 'missed'
  if (m.left === 'left') return 'hangup'
  for (const r of ['declined', 'busy']) if (m.reasons.length > 0 && m.reasons.every((x) => x === r)) return r
  return 'no-answer'
}

/** Adds `id` to `set` (insertion-ordered), dropping the oldest entries beyond `max`. */
export function rememberBounded(set: Set<string>, id: string, max: number): void {
  set.delete(id)
  set.add(id)
  for (const old of set) {
    if (set.size <= max) break
    set.delete(old)
  }
}

/** A chat group as far as matching goes. */
export interface GroupLike {
  readonly id: string
  readonly members: readonly { readonly identity: string }[]
}

/**
 * The chat group of a mesh call: the one group whose members are exactly the participants and us. Undefined when none
 * matches, or when several do (then the call is shown by its participants' names, never in a guessed group).
 */
export function groupOfParticipants(
  groups: readonly GroupLike[],
  me: string,
  participants: Iterable<string>
): string | undefined {
  const want = new Set([me, ...participants])
  const hits = groups.filter((g) => g.members.length === want.size && g.members.every((x) => want.has(x.identity)))
  return hits.length === 1 ? hits[0]?.id : undefined
}

/** Why a group call cannot start now (undefined: it can). Members are identity keys (hex), us included. */
export function groupCallBlock(
  me: string,
  members: readonly string[],
  contacts: readonly ContactRecord[],
  live: boolean
): string | undefined {
  if (!live) return 'You are no longer a member of this group.'
  const others = members.filter((m) => m !== me)
  if (others.length === 0) return 'Nobody else is in this group yet.'
  if (members.length > MAX_CALL_PARTICIPANTS)
    return `Group calls take up to ${MAX_CALL_PARTICIPANTS} people; this group has ${members.length}.`
  const ok = new Set(contacts.filter((c) => c.status === 'ok').map((c) => c.identity))
  const missing = others.filter((m) => !ok.has(m)).length
  if (missing > 0)
    return `Every member must be your contact to call the group (${missing} ${missing === 1 ? 'is' : 'are'} not).`
  return undefined
}
