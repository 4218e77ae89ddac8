/**
 * CallController: calls in a browser page. It binds the CallEngine to a signal transport (the messenger's
 * `signals` and `call-signal` event — see `messengerTransport`), to the camera and microphone, and to one PeerMedia
 * (RTCPeerConnection + SFrame worker) per call, and tells the app what to show through events:
 *
 * - `incoming` — a call rings (show the incoming-call screen: accept / decline);
 * - `call` — a call was placed or arrived; `state` — any change of any call (phase, reason, ringing, connectedAt);
 * - `stream` — the remote media of a call (attach to a <video>); `local` — our own camera/microphone stream;
 * - `quality` — getStats figures per running call, every QUALITY_INTERVAL_MS.
 */
import { CallEngine, type CallSnapshot } from '../engine.ts'
import type { RefusalReason } from '../errors.ts'
import type { MediaKeys } from '../keys.ts'
import type { CallTimings } from '../machine.ts'
import { PeerMedia } from './peer.ts'
import { type CallQuality, readQuality } from './quality.ts'

export type { CallQuality } from './quality.ts'

/** How call signals travel: `messengerTransport(messenger)`, or anything that delivers bytes in order to a contact. */
export interface SignalTransport {
  send(contact: string, signal: Uint8Array): Promise<boolean>
  /** Calls `handler` for every signal received; returns an unsubscribe function. */
  subscribe(handler: (contact: string, signal: Uint8Array) => void): () => void
}

/** The slice of a Messenger the transport needs (so this entry does not pull the messenger into a bundle). */
export interface MessengerLike {
  readonly signals: { send(contact: string, signal: Uint8Array): Promise<boolean> }
  readonly events: EventTarget
}

/** Call signals over a messenger: end-to-end encrypted, in order, contacts only. */
export function messengerTransport(m: MessengerLike): SignalTransport {
  return {
    send: (contact, signal) => m.signals.send(contact, signal),
    subscribe: (handler) => {
      const on = (e: Event) => {
        const d = (e as CustomEvent<{ contact: string; signal: Uint8Array }>).detail
        handler(d.contact, d.signal)
      }
      m.events.addEventListener('call-signal', on)
      return () => m.events.removeEventListener('call-signal', on)
    }
  }
}

/** How often `quality` events fire for running calls. */
export const QUALITY_INTERVAL_MS = 2000

export interface CallControllerOptions {
  /** Our identity key (hex): `toHex(messenger.identityKey)`. */
  readonly self: string
  readonly transport: SignalTransport
  /** STUN/TURN servers: the relay's `/parley.json` `iceServers` (none: host candidates only). */
  readonly iceServers?: RTCIceServer[]
  /** `'relay'` forces TURN (tests; users who hide their address). */
  readonly iceTransportPolicy?: RTCIceTransportPolicy
  /** Camera and microphone (navigator.mediaDevices.getUserMedia by default). */
  readonly getUserMedia?: (c: MediaStreamConstraints) => Promise<MediaStream>
  readonly timings?: Partial<CallTimings>
  /** Test hook: rewrites our SDP (tamper tests). */
  readonly tamperSdp?: (sdp: string) => string
  /** Test hook: changes the keys handed to the SFrame worker (wrong-key tests). */
  readonly tamperKeys?: (keys: MediaKeys) => MediaKeys
  /** Test hook: the SFrame worker to use (default: the package's worker). */
  readonly worker?: Worker
}

/** SFrame counters of a call (from the worker). */
export interface FrameCounters {
  readonly encrypted: number
  readonly decrypted: number
  readonly failed: number
  /** Failures by error code. */
  readonly failures: Readonly<Record<string, number>>
  readonly bytesOut: number
}

export class CallController extends EventTarget {
  readonly engine: CallEngine
  readonly #o: CallControllerOptions
  readonly #worker: Worker
  readonly #peers = new Map<string, PeerMedia>()
  readonly #counters = new Map<string, FrameCounters>()
  readonly #unsubscribe: () => void
  readonly #timer: ReturnType<typeof setInterval>
  readonly #onNetwork = () => this.#networkChanged()
  #local: MediaStream | undefined
  #opening: Promise<MediaStream> | undefined
  #localVideo = true
  #muted = false
  #cameraOff = false

  constructor(options: CallControllerOptions) {
    super()
    this.#o = options
    this.#worker =
      options.worker ??
      new Worker(new URL('./transform-worker.ts', import.meta.url), { type: 'module', name: 'sframe' })
    this.#worker.onmessage = (e: MessageEvent) => {
      const m = e.data as { type: string; callId: string } & FrameCounters
      if (m.type === 'counters') this.#counters.set(m.callId, m)
    }
    this.engine = new CallEngine({
      self: options.self,
      send: (contact, bytes) => options.transport.send(contact, bytes),
      media: (call) => this.#media(call),
      ...(options.timings && { timings: options.timings })
    })
    for (const type of ['call', 'state', 'refused'] as const) {
      this.engine.addEventListener(type, (e) => this.#forward(type, (e as CustomEvent).detail))
    }
    this.#unsubscribe = options.transport.subscribe((contact, signal) => {
      this.engine.receive(contact, signal)
    })
    this.#timer = setInterval(() => void this.#quality(), QUALITY_INTERVAL_MS)
    globalThis.addEventListener?.('online', this.#onNetwork)
    ;(navigator as { connection?: EventTarget }).connection?.addEventListener('change', this.#onNetwork)
  }

  #forward(type: 'call' | 'state' | 'refused', detail: CallSnapshot | { reason: RefusalReason }): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
    if (type === 'state' && (detail as CallSnapshot).phase === 'incoming') {
      this.dispatchEvent(new CustomEvent('incoming', { detail }))
    }
    if (type === 'state' && (detail as CallSnapshot).phase === 'ended') {
      const id = (detail as CallSnapshot).id
      this.#peers.delete(id)
      if (this.engine.calls().length === 0) this.#stopLocal()
    }
  }

  /** Opens the camera and microphone once for all calls (a mesh shares them). */
  #localStream(): Promise<MediaStream> {
    if (this.#opening === undefined) {
      const get = this.#o.getUserMedia ?? ((c) => navigator.mediaDevices.getUserMedia(c))
      const opening = get({ audio: true, video: this.#localVideo }).then((stream) => {
        if (this.#opening !== opening) {
          // Every call ended while the devices opened.
          for (const t of stream.getTracks()) t.stop()
          return stream
        }
        this.#local = stream
        this.#applyLocalState()
        this.dispatchEvent(new CustomEvent('local', { detail: stream }))
        return stream
      })
      this.#opening = opening
    }
    return this.#opening
  }

  #stopLocal(): void {
    for (const t of this.#local?.getTracks() ?? []) t.stop()
    this.#local = undefined
    this.#opening = undefined
  }

  #media(call: CallSnapshot): PeerMedia {
    if (this.engine.calls().length <= 1) this.#localVideo = call.video
    // Not awaited: the devices open while the call is signalled and connected (see PeerMedia).
    const local = this.#localStream()
    local.catch(() => {})
    const peer = new PeerMedia(call, {
      worker: this.#worker,
      rtcConfig: {
        iceServers: this.#o.iceServers ?? [],
        ...(this.#o.iceTransportPolicy && { iceTransportPolicy: this.#o.iceTransportPolicy })
      },
      local: () => local,
      onCandidate: (c) => this.engine.localCandidate(call.id, c),
      onTransport: (s) => this.engine.transport(call.id, s),
      onRemoteCertificate: (cert) => this.engine.verifyRemoteCertificate(call.id, cert),
      onRemoteStream: (stream) => this.dispatchEvent(new CustomEvent('stream', { detail: { id: call.id, stream } })),
      ...(this.#o.tamperSdp && { tamperSdp: this.#o.tamperSdp }),
      ...(this.#o.tamperKeys && { tamperKeys: this.#o.tamperKeys })
    })
    this.#peers.set(call.id, peer)
    return peer
  }

  // ------------------------------------------------------------------ what the app calls

  /** Calls a contact (identity hex); `video: false` for a voice call. */
  call(contact: string, options: { video?: boolean } = {}): CallSnapshot {
    return this.engine.call(contact, options)
  }

  /** A mesh call with up to 3 contacts (4 participants). */
  callGroup(contacts: string[], options: { video?: boolean } = {}): CallSnapshot[] {
    return this.engine.callGroup(contacts, options)
  }

  accept(callId: string): void {
    this.engine.accept(callId)
  }

  decline(callId: string): void {
    this.engine.decline(callId)
  }

  hangup(callId: string): void {
    this.engine.hangup(callId)
  }

  /** Hangs up every call (leave a mesh call). */
  hangupAll(): void {
    for (const c of this.engine.calls()) this.engine.hangup(c.id)
  }

  /** Every running call. */
  calls(): CallSnapshot[] {
    return this.engine.calls()
  }

  /** The remote media of a call (also sent as a `stream` event). */
  remoteStream(callId: string): MediaStream | undefined {
    return this.#peers.get(callId)?.remote
  }

  /** Our camera and microphone while any call runs. */
  get localStream(): MediaStream | undefined {
    return this.#local
  }

  get muted(): boolean {
    return this.#muted
  }

  get cameraOff(): boolean {
    return this.#cameraOff
  }

  /** Mutes or unmutes the microphone in every call. */
  setMuted(muted: boolean): void {
    this.#muted = muted
    this.#applyLocalState()
  }

  /** Turns the camera off (black frames) or on again. */
  setCamera(on: boolean): void {
    this.#cameraOff = !on
    this.#applyLocalState()
  }

  /** Switches every call between voice and video (no renegotiation: the video sender gets or loses its track). */
  async setVideo(video: boolean): Promise<void> {
    const local = this.#local
    this.#localVideo = video
    if (local === undefined) return
    for (const t of local.getVideoTracks()) {
      t.stop()
      local.removeTrack(t)
    }
    if (video) {
      const get = this.#o.getUserMedia ?? ((c) => navigator.mediaDevices.getUserMedia(c))
      const cam = await get({ video: true })
      for (const t of cam.getVideoTracks()) local.addTrack(t)
    }
    const track = local.getVideoTracks()[0] ?? null
    await Promise.all([...this.#peers.values()].map((p) => p.replace('video', track)))
    this.#applyLocalState()
  }

  #applyLocalState(): void {
    for (const t of this.#local?.getAudioTracks() ?? []) t.enabled = !this.#muted
    for (const t of this.#local?.getVideoTracks() ?? []) t.enabled = !this.#cameraOff
  }

  /** Restarts ICE in every running call (also on `online` and network-change events). */
  #networkChanged(): void {
    for (const c of this.engine.calls()) if (c.phase === 'active' || c.phase === 'reconnecting') this.restart(c.id)
  }

  /** An ICE restart of one call. */
  restart(callId: string): void {
    try {
      this.engine.restart(callId)
    } catch {
      // Not running (ringing or ended): nothing to restart.
    }
  }

  /** Rotates the call's media keys (caller side). */
  rekey(callId: string): void {
    this.engine.rekey(callId)
  }

  /** SFrame counters of a call (encrypted and decrypted frames, failures). */
  frameCounters(callId: string): FrameCounters | undefined {
    return this.#counters.get(callId)
  }

  /** getStats figures of a call now. */
  async quality(callId: string): Promise<CallQuality | undefined> {
    const peer = this.#peers.get(callId)
    return peer && readQuality(peer.pc)
  }

  /** The DTLS certificate the peer of a call presented (diagnostics). */
  async remoteCertificate(callId: string) {
    return this.#peers.get(callId)?.remoteCertificate()
  }

  async #quality(): Promise<void> {
    for (const c of this.engine.calls()) {
      if (c.phase !== 'active') continue
      const q = await this.quality(c.id).catch(() => undefined)
      if (q !== undefined) this.dispatchEvent(new CustomEvent('quality', { detail: { id: c.id, ...q } }))
    }
  }

  /** Ends every call's media, stops the camera, and stops listening. */
  close(): void {
    clearInterval(this.#timer)
    this.#unsubscribe()
    globalThis.removeEventListener?.('online', this.#onNetwork)
    this.engine.close()
    for (const p of this.#peers.values()) p.close()
    this.#peers.clear()
    this.#stopLocal()
    if (this.#o.worker === undefined) this.#worker.terminate()
  }
}
