/**
 * The call engine: every call of one user, over one signal transport (messenger.signals) and one media factory (the
 * browser binding). It decodes and vets each received signal (replays, late signals, stale offers, fingerprints),
 * feeds the per-call state machine (machine.ts), runs the machine's commands against media in order, keys media from
 * the session (keys.ts), resolves busy and glare, and emits what the app shows. No WebRTC here: `CallMedia` is the
 * seam, so the engine runs in Node tests with any media that honours the interface.
 */
import {
  CALL_ID_BYTES,
  CALL_MEDIA_SECRET_BYTES,
  type CallSignal,
  type CallSignalInit,
  decodeCallSignal,
  encodeCallSignal
} from '@parley/wire'
import {
  MAX_CONCURRENT_CALLS,
  MAX_OFFER_AGE_MS,
  MAX_OFFER_CLOCK_SKEW_MS,
  MAX_PENDING_CANDIDATES,
  MAX_REMEMBERED_CALLS,
  REKEY_INTERVAL_MS
} from './constants.ts'
import { BusyError, InvalidStateError, type RefusalReason, TooManyCallsError } from './errors.ts'
import { CallKeySchedule, type MediaKeys } from './keys.ts'
import {
  type CallCommand,
  type CallInput,
  type CallTimings,
  DEFAULT_TIMINGS,
  initialState,
  isLive,
  transition
} from './machine.ts'
import {
  type CallRecord,
  type CallSnapshot,
  compareBytes,
  fromHex,
  type IceCandidate,
  snapshot,
  toHex
} from './record.ts'
import { checkRemoteCertificate, checkSignalledDescription } from './sdp.ts'

export type { CallSnapshot, IceCandidate } from './record.ts'

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

/** How signals leave: `messenger.signals.send` (true once the peer's device stored it). */
export type SignalSender = (contact: string, signal: Uint8Array) => Promise<boolean>

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
  /** Ended (or refused) call ids, oldest first, bounded by MAX_REMEMBERED_CALLS. */
  readonly #ended = new Set<string>()
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
    this.#admit(options.group?.id)
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
      this.#meshLegs(rec.group)
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
    const rec = this.#must(callId)
    if (rec.role !== 'caller' || rec.state.phase !== 'active' || !rec.keys.started || rec.rekeyPending !== undefined) {
      return
    }
    const epoch = rec.keys.epoch + 1
    const secret = this.#o.randomBytes(CALL_MEDIA_SECRET_BYTES)
    rec.keys.rekey(epoch, secret)
    rec.rekeyPending = epoch
    rec.epochStartedAt = this.#o.now()
    // We receive with the new epoch at once; we send with it once the callee says it has it.
    rec.media?.setKeys(rec.keys.keys())
    this.#send(rec, { type: 'rekey', keyId: epoch, mediaSecret: secret })
  }

  /** The binding reports a local ICE candidate. */
  localCandidate(callId: string, candidate: IceCandidate): void {
    const rec = this.#calls.get(callId)
    if (rec === undefined) return
    if (!rec.localSent) {
      rec.localCandidates.push(candidate)
      return
    }
    this.#send(rec, { type: 'ice', ...candidate })
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
      if (this.#ended.has(id)) return refuse(sig.type === 'offer' ? 'replay' : 'late')
      if (sig.type !== 'offer' || sig.restart === true) return refuse('unknown-call')
      return this.#incomingOffer(contact, id, sig, refuse)
    }
    if (rec.contact !== contact) return refuse('wrong-peer')
    if (sig.seq <= rec.recvSeq) return refuse('replay')
    if (!this.#accepts(rec, sig)) return refuse('unexpected')
    rec.recvSeq = sig.seq
    return undefined
  }

  #incomingOffer(
    contact: string,
    id: string,
    sig: CallSignal,
    refuse: (r: RefusalReason) => RefusalReason
  ): RefusalReason | undefined {
    const now = this.#o.now()
    if (sig.seq !== 1) return refuse('unexpected')
    if (now - sig.sentAt > MAX_OFFER_AGE_MS || sig.sentAt - now > MAX_OFFER_CLOCK_SKEW_MS) {
      this.#remember(id)
      return refuse('stale')
    }
    let fingerprints: readonly string[]
    try {
      fingerprints = checkSignalledDescription(sig.sdp!, sig.fingerprints!)
    } catch {
      this.#remember(id)
      return refuse('malformed')
    }
    const group = sig.groupId && { id: toHex(sig.groupId), members: (sig.members ?? []).map(toHex) }
    // Glare: we ring this contact while it rings us. The higher call id wins on both sides; the loser is dropped.
    const mine = [...this.#calls.values()].find(
      (r) => r.contact === contact && r.role === 'caller' && r.state.phase === 'outgoing'
    )
    let autoAccept = false
    if (mine !== undefined) {
      if (compareBytes(mine.id, sig.callId) > 0) {
        this.#remember(id)
        return refuse('glare')
      }
      this.#input(mine, { type: 'glare-lost' })
      autoAccept = true
    }
    try {
      this.#admit(group?.id)
    } catch {
      this.#remember(id)
      void this.#o.send(contact, this.#encode(sig.callId, 1, { type: 'busy' })).catch(() => {})
      return refuse('busy')
    }
    const rec = this.#record(sig.callId, contact, 'callee', sig.video === true, group)
    rec.recvSeq = 1
    rec.remoteOffer = sig.sdp!
    rec.remoteSecret = sig.mediaSecret!
    rec.remoteFingerprints = fingerprints
    this.#emit('call', snapshot(rec))
    this.#input(rec, { type: 'incoming' })
    // A leg of a mesh call we already joined, or the winning call of a glare (we were calling them): answer at once.
    const joined =
      group !== undefined &&
      [...this.#calls.values()].some((r) => r !== rec && r.group?.id === group.id && r.state.phase !== 'incoming')
    if (autoAccept || joined) this.accept(id)
    return undefined
  }

  /** Feeds an accepted signal of a known call to its machine; false when it does not fit. */
  #accepts(rec: CallRecord, sig: CallSignal): boolean {
    switch (sig.type) {
      case 'offer':
      case 'answer': {
        if (sig.restart !== true && sig.type === 'offer') return false
        try {
          rec.remoteFingerprints = checkSignalledDescription(sig.sdp!, sig.fingerprints!, rec.remoteFingerprints)
        } catch {
          this.#input(rec, { type: 'security' })
          return true
        }
        rec.remoteDescription = sig.sdp!
        if (sig.type === 'answer' && sig.restart !== true) rec.remoteSecret = sig.mediaSecret!
        const signal = sig.type === 'offer' ? 'restart-offer' : sig.restart === true ? 'restart-answer' : 'answer'
        return this.#input(rec, { type: 'remote', signal })
      }
      case 'ice': {
        const c: IceCandidate = {
          candidate: sig.candidate!,
          ...(sig.sdpMid !== undefined && { sdpMid: sig.sdpMid }),
          ...(sig.sdpMLineIndex !== undefined && { sdpMLineIndex: sig.sdpMLineIndex })
        }
        if (!rec.remoteSet || rec.media === undefined) {
          if (rec.remoteCandidates.length >= MAX_PENDING_CANDIDATES) return false
          rec.remoteCandidates.push(c)
        } else {
          this.#chain(rec, () => rec.media!.addCandidate(c))
        }
        return true
      }
      case 'hangup':
        return this.#input(rec, { type: 'remote', signal: 'hangup', reason: sig.reason! })
      case 'ringing':
      case 'decline':
      case 'busy':
        return this.#input(rec, { type: 'remote', signal: sig.type })
      case 'rekey': {
        if (rec.role !== 'callee' || !rec.keys.started || sig.keyId !== rec.keys.epoch + 1) return false
        rec.keys.rekey(sig.keyId, sig.mediaSecret!)
        rec.keys.sendWith(sig.keyId)
        rec.media?.setKeys(rec.keys.keys())
        this.#send(rec, { type: 'rekey-ack', keyId: sig.keyId })
        this.#changed(rec)
        return true
      }
      case 'rekey-ack':
        if (rec.rekeyPending !== sig.keyId) return false
        rec.keys.sendWith(sig.keyId!)
        rec.rekeyPending = undefined
        rec.media?.setKeys(rec.keys.keys())
        this.#changed(rec)
        return true
    }
  }

  /** One input to a call's machine; its commands run in order. A local action that does not fit throws. */
  #input(rec: CallRecord, input: CallInput, local = false): boolean {
    const t = transition(rec.state, input, this.#o.now(), this.#o.timings)
    if (!t.ok) {
      if (local) throw new InvalidStateError(describeInput(input), rec.state.phase)
      return false
    }
    rec.state = t.state
    for (const cmd of t.commands) this.#chain(rec, () => this.#command(rec, cmd))
    this.#changed(rec)
    return true
  }

  #changed(rec: CallRecord): void {
    // (every input that reaches here changed the state or ran commands)
    if (rec.state.phase === 'ended' && this.#calls.has(rec.idHex)) {
      this.#calls.delete(rec.idHex)
      this.#remember(rec.idHex)
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

  async #command(rec: CallRecord, cmd: CallCommand): Promise<void> {
    const media = async () => {
      rec.media ??= await this.#o.media(snapshot(rec))
      return rec.media
    }
    switch (cmd.type) {
      case 'send-offer': {
        const m = await media()
        rec.localSecret = this.#o.randomBytes(CALL_MEDIA_SECRET_BYTES)
        const d = await m.createOffer({ restart: false })
        const delivered = this.#sendDescription(rec, 'offer', d, {
          mediaSecret: rec.localSecret,
          video: rec.video,
          ...(rec.group && { groupId: fromHex(rec.group.id), members: rec.group.members.map(fromHex) })
        })
        // Not awaited: the next steps need not wait for the callee's Ack (the transport keeps signals in order).
        void delivered.then((ok) => {
          if (!ok && rec.state.phase === 'outgoing') this.#input(rec, { type: 'fail' })
        })
        return
      }
      case 'send-answer': {
        const m = await media()
        rec.localSecret = this.#o.randomBytes(CALL_MEDIA_SECRET_BYTES)
        rec.keys.start(rec.remoteSecret!, rec.localSecret)
        m.setKeys(rec.keys.keys())
        const d = await m.answer(rec.remoteOffer!, { restart: false })
        await this.#remoteSet(rec)
        void this.#sendDescription(rec, 'answer', d, { mediaSecret: rec.localSecret })
        return
      }
      case 'apply-answer': {
        const m = await media()
        rec.keys.start(rec.localSecret!, rec.remoteSecret!)
        m.setKeys(rec.keys.keys())
        await m.applyAnswer(rec.remoteDescription!)
        await this.#remoteSet(rec)
        return
      }
      case 'send-restart-offer': {
        rec.localSent = false
        const d = await (await media()).createOffer({ restart: true })
        void this.#sendDescription(rec, 'offer', d, { restart: true })
        return
      }
      case 'answer-restart': {
        rec.localSent = false
        const d = await (await media()).answer(rec.remoteDescription!, { restart: true })
        void this.#sendDescription(rec, 'answer', d, { restart: true })
        return
      }
      case 'apply-restart-answer':
        await (await media()).applyAnswer(rec.remoteDescription!)
        return
      case 'send':
        void this.#send(rec, cmd.signal === 'hangup' ? { type: 'hangup', reason: cmd.reason } : { type: cmd.signal })
        return
      case 'close':
        rec.media?.close()
        return
    }
  }

  async #remoteSet(rec: CallRecord): Promise<void> {
    rec.remoteSet = true
    for (const c of rec.remoteCandidates.splice(0)) await rec.media!.addCandidate(c)
  }

  #sendDescription(
    rec: CallRecord,
    type: 'offer' | 'answer',
    d: CallDescription,
    extra: Partial<CallSignalInit>
  ): Promise<boolean> {
    rec.localFingerprints = d.fingerprints
    const sent = this.#send(rec, { type, sdp: d.sdp, fingerprints: d.fingerprints, ...extra })
    // Candidates gathered while the description was made go after it.
    rec.localSent = true
    for (const c of rec.localCandidates.splice(0)) void this.#send(rec, { type: 'ice', ...c })
    return sent
  }

  #send(rec: CallRecord, init: Omit<CallSignalInit, 'callId' | 'seq' | 'sentAt'>): Promise<boolean> {
    const bytes = this.#encode(rec.id, ++rec.sendSeq, init)
    return this.#o.send(rec.contact, bytes).catch(() => false)
  }

  #encode(callId: Uint8Array, seq: number, init: Omit<CallSignalInit, 'callId' | 'seq' | 'sentAt'>): Uint8Array {
    return encodeCallSignal({ ...init, callId, seq, sentAt: this.#o.now() } as CallSignalInit)
  }

  #record(
    id: Uint8Array,
    contact: string,
    role: 'caller' | 'callee',
    video: boolean,
    group: { id: string; members: string[] } | undefined
  ): CallRecord {
    const self = fromHex(this.#o.self)
    const peer = fromHex(contact)
    const rec: CallRecord = {
      id,
      idHex: toHex(id),
      contact,
      role,
      video,
      ...(group && { group }),
      state: initialState(role, this.#o.now()),
      sendSeq: 0,
      recvSeq: 0,
      keys: new CallKeySchedule(
        id,
        role === 'caller' ? self : peer,
        role === 'caller' ? peer : self,
        role === 'caller'
      ),
      remoteSet: false,
      localSent: false,
      remoteCandidates: [],
      localCandidates: [],
      chain: Promise.resolve()
    }
    this.#calls.set(rec.idHex, rec)
    return rec
  }

  /** Throws BusyError unless a new call (of `group`) may start now. */
  #admit(group: string | undefined): void {
    const live = [...this.#calls.values()].filter((r) => isLive(r.state))
    if (live.length === 0) return
    if (group === undefined || live.some((r) => r.group?.id !== group)) throw new BusyError()
    if (live.length >= MAX_CONCURRENT_CALLS) throw new TooManyCallsError(MAX_CONCURRENT_CALLS)
  }

  /** In a mesh, of each pair of invited members the one with the higher identity key calls the other. */
  #meshLegs(group: { id: string; members: string[] }): void {
    for (const m of group.members) {
      if (m <= this.#o.self) continue
      if ([...this.#calls.values()].some((r) => r.contact === m && r.group?.id === group.id)) continue
      const others = [...group.members.filter((x) => x !== m), ...this.#callerOf(group.id)]
      try {
        this.call(m, { video: true, group: { id: group.id, members: others } })
      } catch {
        // Over the bound or busy elsewhere: that pair stays unconnected.
      }
    }
  }

  #callerOf(group: string): string[] {
    return [...this.#calls.values()].filter((r) => r.group?.id === group && r.role === 'callee').map((r) => r.contact)
  }

  #remember(id: string): void {
    this.#ended.delete(id)
    this.#ended.add(id)
    if (this.#ended.size > MAX_REMEMBERED_CALLS) this.#ended.delete(this.#ended.values().next().value!)
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
      const due = this.#rekeyDue(rec)
      if (due !== undefined && now >= due) this.rekey(rec.idHex)
    }
  }

  /** When the caller rotates the media keys of a running call next (REKEY_INTERVAL_MS after the last epoch began). */
  #rekeyDue(rec: CallRecord): number | undefined {
    if (rec.role !== 'caller' || rec.state.phase !== 'active' || !rec.keys.started || rec.rekeyPending !== undefined) {
      return undefined
    }
    return (rec.epochStartedAt ?? rec.state.connectedAt ?? this.#o.now()) + REKEY_INTERVAL_MS
  }

  #schedule(): void {
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
    const deadlines = [...this.#calls.values()]
      .flatMap((r) => [r.state.deadline, this.#rekeyDue(r)])
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
