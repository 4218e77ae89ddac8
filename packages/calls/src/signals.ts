/**
 * Call signals as the engine sees them on the wire: encoding ours with their sequence number and send time, and
 * vetting received ones before any call state changes — replays and late signals of ended calls (a bounded memory of
 * call ids), signals from the wrong peer or with a used sequence number, stale or future-dated offers, and offers
 * whose SDP does not carry the fingerprints they name. Checks only: what a refusal leads to is the engine's.
 */
import { type CallSignal, type CallSignalInit, encodeCallSignal } from '@parley/wire'
import { MAX_OFFER_AGE_MS, MAX_OFFER_CLOCK_SKEW_MS, MAX_REMEMBERED_CALLS } from './constants.ts'
import type { RefusalReason } from './errors.ts'
import { type CallRecord, type IceCandidate, toHex } from './record.ts'
import { checkSignalledDescription } from './sdp.ts'

/** How signals leave: `messenger.signals.send` (true once the peer's device stored it). */
export type SignalSender = (contact: string, signal: Uint8Array) => Promise<boolean>

/** A signal's content; the call id, sequence number and send time are added when it is sent. */
export type SignalBody = Omit<CallSignalInit, 'callId' | 'seq' | 'sentAt'>

/** Encodes one of our signals. */
export function encodeSignal(callId: Uint8Array, seq: number, sentAt: number, body: SignalBody): Uint8Array {
  return encodeCallSignal({ ...body, callId, seq, sentAt } as CallSignalInit)
}

/** Sends a signal of a running call with its next sequence number; resolves false when it was not delivered. */
export function sendSignal(
  o: { readonly send: SignalSender; readonly now: () => number },
  rec: CallRecord,
  body: SignalBody
): Promise<boolean> {
  const bytes = encodeSignal(rec.id, ++rec.sendSeq, o.now(), body)
  return o.send(rec.contact, bytes).catch(() => false)
}

/** Ended (or refused) call ids, oldest first, bounded by MAX_REMEMBERED_CALLS: a later signal of one is refused. */
export class EndedCalls {
  readonly #ids = new Set<string>()

  has(id: string): boolean {
    return this.#ids.has(id)
  }

  remember(id: string): void {
    this.#ids.delete(id)
    this.#ids.add(id)
    if (this.#ids.size > MAX_REMEMBERED_CALLS) this.#ids.delete(this.#ids.values().next().value!)
  }
}

/** Why a signal of a call we do not run is refused, or undefined when it is a first offer that may ring. */
export function vetUnknownCall(sig: CallSignal, id: string, ended: EndedCalls): RefusalReason | undefined {
  if (ended.has(id)) return sig.type === 'offer' ? 'replay' : 'late'
  if (sig.type !== 'offer' || sig.restart === true) return 'unknown-call'
  return undefined
}

/** A first offer that passed the checks: the fingerprints it binds, and the mesh call it belongs to, if any. */
export type OfferCheck =
  | {
      readonly ok: true
      readonly fingerprints: readonly string[]
      readonly group: { id: string; members: string[] } | undefined
    }
  /** `remember`: the call id is remembered as ended, so a repeat of the offer is a replay. */
  | { readonly ok: false; readonly reason: RefusalReason; readonly remember: boolean }

/** Vets a first offer at `now`: sequence number 1, sent within MAX_OFFER_AGE_MS and MAX_OFFER_CLOCK_SKEW_MS, SDP. */
export function vetOffer(sig: CallSignal, now: number): OfferCheck {
  if (sig.seq !== 1) return { ok: false, reason: 'unexpected', remember: false }
  if (now - sig.sentAt > MAX_OFFER_AGE_MS || sig.sentAt - now > MAX_OFFER_CLOCK_SKEW_MS) {
    return { ok: false, reason: 'stale', remember: true }
  }
  let fingerprints: readonly string[]
  try {
    fingerprints = checkSignalledDescription(sig.sdp!, sig.fingerprints!)
  } catch {
    return { ok: false, reason: 'malformed', remember: true }
  }
  const group = sig.groupId && { id: toHex(sig.groupId), members: (sig.members ?? []).map(toHex) }
  return { ok: true, fingerprints, group }
}

/** Why a signal of a running call is refused before its machine sees it, or undefined. */
export function vetKnownCall(rec: CallRecord, contact: string, sig: CallSignal): RefusalReason | undefined {
  if (rec.contact !== contact) return 'wrong-peer'
  if (sig.seq <= rec.recvSeq) return 'replay'
  return undefined
}

/** The ICE candidate an `ice` signal carries. */
export function candidateOf(sig: CallSignal): IceCandidate {
  return {
    candidate: sig.candidate!,
    ...(sig.sdpMid !== undefined && { sdpMid: sig.sdpMid }),
    ...(sig.sdpMLineIndex !== undefined && { sdpMLineIndex: sig.sdpMLineIndex })
  }
}
