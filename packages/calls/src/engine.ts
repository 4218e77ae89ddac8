/**
 * The call engine: every call of one user, over one signal transport (messenger.signals) and one media factory (the
 * browser binding). This file is its front: the API and events, the running calls, routing each received signal after
 * vetting (signals.ts) to a new incoming call — admitted or refused as busy or glare (admission.ts) — or to a running
 * call's life (lifecycle.ts), each call's machine (machine.ts) with its commands run in order, and one timer for
 * deadlines and re-keys (media-keys.ts). No WebRTC here: `CallMedia` is the seam, so the engine runs in Node tests
 * with any media that honours the interface.
 */
import { CALL_ID_BYTES, type CallSignal, decodeCallSignal } from '@parley/wire'
import { admit, glareRival, joinedMesh, meshLeg, winsGlare } from './admission.ts'
import { MAX_CONCURRENT_CALLS } from './constants.ts'
import { InvalidStateError, type RefusalReason, TooManyCallsError } from './errors.ts'
import type { MediaKeys } from './keys.ts'
import { applySignal, type CallHost, newRecord, runCommand } from './lifecycle.ts'
import { type CallInput, type CallTimings, DEFAULT_TIMINGS, transition } from './machine.ts'
import { rekeyDue, startRekey } from './media-keys.ts'
import { type CallRecord, type CallSnapshot, type IceCandidate, snapshot, toHex } from './record.ts'
import { checkRemoteCertificate } from './sdp.ts'
import {
  EndedCalls,
  encodeSignal,
  type SignalSender,
  sendSignal,
  vetKnownCall,
  vetOffer,
  vetUnknownCall
} from './signals.ts'

export type { CallSnapshot, IceCandidate } from './record.ts'
export type { SignalSender } from './signals.ts'

/** A description one side created: its SDP and the DTLS fingerprints in it. */
export interface CallDescription {
  readonly sdp: string
  readonly fingerprints: readonly string[]
}

/** What the engine needs from media (the browser binding implements it over RTCPeerConnection). */
export interface CallMedia {
  /** Creates and sets a local offer (an ICE restart when `restart`). */
  createOffer(options: { restart: boolean }): Promise<CallDescription>
  /** Sets the peer's offer, then creates and sets our answer. */
  answer(offerSdp: string, options: { restart: boolean }): Promise<CallDescription>
  /** Sets the peer's answer. */
  applyAnswer(answerSdp: string): Promise<void>
  addCandidate(candidate: IceCandidate): Promise<void>
  /** Installs media keys (at the start and on every re-key). */
  setKeys(keys: MediaKeys): void
  close(): void
}

export interface CallEngineOptions {
  /** Our identity key (hex): the caller or callee identity in the key schedule, and the glare tie-break. */
  readonly self: string
  readonly send: SignalSender
  /** Makes the media of one call (called when the caller dials, and when the callee accepts). */
  readonly media: (call: CallSnapshot) => CallMedia | Promise<CallMedia>
  readonly now?: () => number
  readonly randomBytes?: (n: number) => Uint8Array
  readonly timings?: Partial<CallTimings>
  /** Schedules `fn` after `ms`; returns a cancel function (setTimeout by default). */
  readonly setTimer?: (fn: () => void, ms: number) => () => void
}

/** Events: `call` (a new call, incoming or outgoing), `state` (any change), `refused` (a signal we dropped). */
export interface CallEngineEvents {
  call: CallSnapshot
  state: CallSnapshot
  refused: { contact: string; callId: string; reason: RefusalReason }
}

export class CallEngine extends EventTarget {
  readonly #o: Required<Omit<CallEngineOptions, 'timings'>> & { timings: CallTimings }
  readonly #calls = new Map<string, CallRecord>()
  readonly #ended = new EndedCalls()
  /** What lifecycle.ts and media-keys.ts use of this engine. */
  readonly #host: CallHost
  #cancelTimer: (() => void) | undefined

  constructor(options: CallEngineOptions) {
    super()
    this.#o = {
      now: Date.now,
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      setTimer: (fn, ms) => {
        const t = setTimeout(fn, ms)
        return () => clearTimeout(t)
      },
      ...options,
      timings: { ...DEFAULT_TIMINGS, ...options.timings }
    }
    this.#host = {
      now: () => this.#o.now(),
      randomBytes: (n) => this.#o.randomBytes(n),
      send: (contact, signal) => this.#o.send(contact, signal),
      media: (call) => this.#o.media(call),
      input: (rec, input, local) => this.#input(rec, input, local),
      chain: (rec, fn) => this.#chain(rec, fn),
      changed: (rec) => this.#changed(rec)
    }
  }

  #emit<K extends keyof CallEngineEvents>(type: K, detail: CallEngineEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /** Every call not yet ended. */
  calls(): CallSnapshot[] {
    return [...this.#calls.values()].map(snapshot)
  }

  /** One call by id (hex), if it is still running. */
  get(callId: string): CallSnapshot | undefined {
    const rec = this.#calls.get(callId)
    return rec && snapshot(rec)
  }

  /** Calls a contact. With `group`, this call is one pair of a mesh call (other calls of that group may run). */
  call(contact: string, options: { video?: boolean; group?: { id: string; members: string[] } } = {}): CallSnapshot {
    admit(this.#calls.values(), options.group?.id)
    const rec = this.#record(
      this.#o.randomBytes(CALL_ID_BYTES),
      contact,
      'caller',
      options.video ?? true,
      options.group
    )
    this.#emit('call', snapshot(rec))
    this.#input(rec, { type: 'dial' })
    return snapshot(rec)
  }

  /** Starts a mesh call with up to MAX_CONCURRENT_CALLS contacts: one call each, all in one group. */
  callGroup(contacts: string[], options: { video?: boolean } = {}): CallSnapshot[] {
    if (contacts.length === 0 || contacts.length > MAX_CONCURRENT_CALLS)
      throw new TooManyCallsError(MAX_CONCURRENT_CALLS)
    const id = toHex(this.#o.randomBytes(CALL_ID_BYTES))
    return contacts.map((c) => this.call(c, { ...options, group: { id, members: contacts.filter((x) => x !== c) } }))
  }

  accept(callId: string): void {
    const rec = this.#must(callId)
    this.#input(rec, { type: 'accept' }, true)
    // Accepting one leg of a mesh call accepts the group's other ringing legs, and we call the members we should.
    if (rec.group !== undefined) {
      for (const other of this.#calls.values()) {
        if (other !== rec && other.group?.id === rec.group.id && other.state.phase === 'incoming') {
          this.#input(other, { type: 'accept' })
        }
      }
      this.#meshLegs(rec.group, rec.video)
    }
  }

  decline(callId: string): void {
    this.#input(this.#must(callId), { type: 'decline' }, true)
  }

  hangup(callId: string): void {
    this.#input(this.#must(callId), { type: 'hangup' }, true)
  }

  /** An ICE restart (the network changed). */
  restart(callId: string): void {
    this.#input(this.#must(callId), { type: 'restart' }, true)
  }

  /** Starts the next media key epoch (caller only; the callee follows on receipt). */
  rekey(callId: string): void {
    startRekey(this.#host, this.#must(callId))
  }

  /** The binding reports a local ICE candidate. */
  localCandidate(callId: string, candidate: IceCandidate): void {
    const rec = this.#calls.get(callId)
    if (rec === undefined) return
    if (!rec.localSent) {
      rec.localCandidates.push(candidate)
      return
    }
    void sendSignal(this.#host, rec, { type: 'ice', ...candidate })
  }

  /** The binding reports the media transport's state. */
  transport(callId: string, state: 'connected' | 'disconnected' | 'failed'): void {
    const rec = this.#calls.get(callId)
    if (rec !== undefined) this.#input(rec, { type: 'transport', state })
  }

  /**
   * The binding reports the certificate the peer presented in DTLS: one that differs from the fingerprints its
   * authenticated offer or answer named ends the call as `security` (fail closed). Returns whether it matched.
   */
  verifyRemoteCertificate(callId: string, cert: { fingerprintAlgorithm: string; fingerprint: string }): boolean {
    const rec = this.#calls.get(callId)
    if (rec === undefined) return false
    try {
      checkRemoteCertificate(cert, rec.remoteFingerprints ?? [])
      return true
    } catch {
      this.#input(rec, { type: 'security' })
      return false
    }
  }

  /**
   * A received call signal from `contact` (the messenger's `call-signal` event: only contacts reach here). Returns
   * why it was refused (also emitted as `refused`), or undefined when it was taken.
   */
  receive(contact: string, bytes: Uint8Array): RefusalReason | undefined {
    let sig: CallSignal
    try {
      sig = decodeCallSignal(bytes)
    } catch {
      this.#emit('refused', { contact, callId: '', reason: 'malformed' })
      return 'malformed'
    }
    const id = toHex(sig.callId)
    const refuse = (reason: RefusalReason): RefusalReason => {
      this.#emit('refused', { contact, callId: id, reason })
      return reason
    }
    const rec = this.#calls.get(id)
    if (rec === undefined) {
      const unknown = vetUnknownCall(sig, id, this.#ended)
      if (unknown !== undefined) return refuse(unknown)
      return this.#incomingOffer(contact, id, sig, refuse)
    }
    const refused = vetKnownCall(rec, contact, sig)
    if (refused !== undefined) return refuse(refused)
    if (!applySignal(this.#host, rec, sig)) return refuse('unexpected')
    rec.recvSeq = sig.seq
    return undefined
  }

  #incomingOffer(
    contact: string,
    id: string,
    sig: CallSignal,
    refuse: (r: RefusalReason) => RefusalReason
  ): RefusalReason | undefined {
    const offer = vetOffer(sig, this.#o.now())
    if (!offer.ok) {
      if (offer.remember) this.#ended.remember(id)
      return refuse(offer.reason)
    }
    const group = offer.group
    // Glare: we ring this contact while it rings us. The higher call id wins on both sides; the loser is dropped.
    const mine = glareRival(this.#calls.values(), contact)
    let autoAccept = false
    if (mine !== undefined) {
      if (winsGlare(mine, sig.callId)) {
        this.#ended.remember(id)
        return refuse('glare')
      }
      this.#input(mine, { type: 'glare-lost' })
      autoAccept = true
    }
    try {
      admit(this.#calls.values(), group?.id)
    } catch {
      this.#ended.remember(id)
      void this.#o.send(contact, encodeSignal(sig.callId, 1, this.#o.now(), { type: 'busy' })).catch(() => {})
      return refuse('busy')
    }
    const rec = this.#record(sig.callId, contact, 'callee', sig.video === true, group)
    rec.recvSeq = 1
    rec.remoteOffer = sig.sdp!
    rec.remoteSecret = sig.mediaSecret!
    rec.remoteFingerprints = offer.fingerprints
    this.#emit('call', snapshot(rec))
    this.#input(rec, { type: 'incoming' })
    // A leg of a mesh call we already joined, or the winning call of a glare (we were calling them): answer at once.
    const joined = group !== undefined && joinedMesh(this.#calls.values(), rec, group.id)
    if (autoAccept || joined) this.accept(id)
    return undefined
  }

  /** One input to a call's machine; its commands run in order. A local action that does not fit throws. */
  #input(rec: CallRecord, input: CallInput, local = false): boolean {
    const t = transition(rec.state, input, this.#o.now(), this.#o.timings)
    if (!t.ok) {
      if (local) throw new InvalidStateError(describeInput(input), rec.state.phase)
      return false
    }
    rec.state = t.state
    for (const cmd of t.commands) this.#chain(rec, () => runCommand(this.#host, rec, cmd))
    this.#changed(rec)
    return true
  }

  #changed(rec: CallRecord): void {
    // (every input that reaches here changed the state or ran commands)
    if (rec.state.phase === 'ended' && this.#calls.has(rec.idHex)) {
      this.#calls.delete(rec.idHex)
      this.#ended.remember(rec.idHex)
    }
    this.#emit('state', snapshot(rec))
    this.#schedule()
  }

  #chain(rec: CallRecord, fn: () => Promise<void> | void): void {
    rec.chain = rec.chain.then(fn).catch(() => {
      // Media failed (no device, a description refused): the call fails, and we tell the peer.
      if (rec.state.phase !== 'ended') this.#input(rec, { type: 'fail' })
    })
  }

  #record(
    id: Uint8Array,
    contact: string,
    role: 'caller' | 'callee',
    video: boolean,
    group: { id: string; members: string[] } | undefined
  ): CallRecord {
    const rec = newRecord(id, this.#o.self, contact, role, video, group, this.#o.now())
    this.#calls.set(rec.idHex, rec)
    return rec
  }

  /** Dials the members of a mesh call we joined that we should call (admission.ts: the higher identity key calls). */
  #meshLegs(group: { id: string; members: string[] }, video: boolean): void {
    for (const m of group.members) {
      const others = meshLeg(this.#calls.values(), this.#o.self, group, m)
      if (others === undefined) continue
      try {
        this.call(m, { video, group: { id: group.id, members: others } })
      } catch {
        // Over the bound or busy elsewhere: that pair stays unconnected.
      }
    }
  }

  #must(callId: string): CallRecord {
    const rec = this.#calls.get(callId)
    if (rec === undefined) throw new InvalidStateError(`call ${callId}`, 'ended')
    return rec
  }

  /** Runs due deadlines and periodic re-keys now (also on the engine's own timer). */
  tick(): void {
    const now = this.#o.now()
    for (const rec of [...this.#calls.values()]) {
      if (rec.state.deadline !== undefined && now >= rec.state.deadline) this.#input(rec, { type: 'tick' })
      const due = rekeyDue(rec, this.#host.now)
      if (due !== undefined && now >= due) this.rekey(rec.idHex)
    }
  }

  #schedule(): void {
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
    const deadlines = [...this.#calls.values()]
      .flatMap((r) => [r.state.deadline, rekeyDue(r, this.#host.now)])
      .filter((d) => d !== undefined)
    if (deadlines.length === 0) return
    const wait = Math.max(0, Math.min(...deadlines) - this.#o.now())
    this.#cancelTimer = this.#o.setTimer(() => this.tick(), wait)
  }

  /** Stops timers and closes every call's media (nothing is sent). */
  close(): void {
    this.#cancelTimer?.()
    for (const rec of this.#calls.values()) rec.media?.close()
    this.#calls.clear()
  }
}

function describeInput(input: CallInput): string {
  return input.type === 'remote' ? `remote ${input.signal}` : input.type
}
