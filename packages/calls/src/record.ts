/** What the engine keeps per call, and the snapshot apps see. Internal to the package. */
import type { CallMedia } from './engine.ts'
import type { CallKeySchedule } from './keys.ts'
import type { CallPhase, CallRole, CallState, EndReason } from './machine.ts'

/** An ICE candidate as RTCIceCandidateInit carries it. */
export interface IceCandidate {
  readonly candidate: string
  readonly sdpMid?: string
  readonly sdpMLineIndex?: number
}

/** One call as the app sees it. */
export interface CallSnapshot {
  /** The call id (hex). */
  readonly id: string
  /** The contact (identity key, hex). */
  readonly contact: string
  readonly role: CallRole
  readonly phase: CallPhase
  readonly reason?: EndReason
  /** The caller offered video (an audio call otherwise). */
  readonly video: boolean
  /** Caller: the callee's device rings. */
  readonly ringing: boolean
  /** When the current phase began, and when media first connected (the in-call timer), on the engine's clock. */
  readonly since: number
  readonly connectedAt?: number
  /** The media key epoch we send with. */
  readonly keyEpoch: number
  /** Set when this call is one pair of a mesh call. */
  readonly group?: { readonly id: string; readonly members: readonly string[] }
}

export interface CallRecord {
  readonly id: Uint8Array
  readonly idHex: string
  readonly contact: string
  readonly role: CallRole
  readonly video: boolean
  readonly group?: { id: string; members: string[] }
  state: CallState
  sendSeq: number
  recvSeq: number
  readonly keys: CallKeySchedule
  localSecret?: Uint8Array
  remoteSecret?: Uint8Array
  /** Callee: the caller's first offer, applied on accept. */
  remoteOffer?: string
  /** The latest answer or restart offer received. */
  remoteDescription?: string
  remoteFingerprints?: readonly string[]
  localFingerprints?: readonly string[]
  media?: CallMedia
  remoteSet: boolean
  localSent: boolean
  readonly remoteCandidates: IceCandidate[]
  readonly localCandidates: IceCandidate[]
  rekeyPending?: number
  /** When the caller started the current key epoch (the next periodic re-key is REKEY_INTERVAL_MS later). */
  epochStartedAt?: number
  chain: Promise<void>
}

export function snapshot(r: CallRecord): CallSnapshot {
  return {
    id: r.idHex,
    contact: r.contact,
    role: r.role,
    phase: r.state.phase,
    ...(r.state.reason !== undefined && { reason: r.state.reason }),
    video: r.video,
    ringing: r.state.ringing,
    since: r.state.since,
    ...(r.state.connectedAt !== undefined && { connectedAt: r.state.connectedAt }),
    keyEpoch: r.keys.started ? r.keys.sendEpoch : 0,
    ...(r.group && { group: { id: r.group.id, members: [...r.group.members] } })
  }
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

export function fromHex(h: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(h)) throw new TypeError('not lower-case hex')
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Bytewise order (the glare tie-break). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
