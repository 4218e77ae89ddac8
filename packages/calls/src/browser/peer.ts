/**
 * The media of one call in a browser: one RTCPeerConnection with an audio and a video transceiver (an audio call
 * sends no video track; switching to video is a replaceTrack, no renegotiation), every sender and receiver behind the
 * SFrame worker (RTCRtpScriptTransform), VP8 preferred (its clear bytes are known to the worker), and the DTLS
 * certificate the peer presents checked against the fingerprints of its authenticated signal before the call counts
 * as connected.
 */
import type { CallDescription, CallMedia, CallSnapshot } from '../engine.ts'
import type { MediaKeys } from '../keys.ts'
import type { IceCandidate } from '../record.ts'
import { sdpFingerprints } from '../sdp.ts'

/** What a PeerMedia reports to its controller. */
export interface PeerHooks {
  readonly worker: Worker
  readonly rtcConfig: RTCConfiguration
  /** Our camera and microphone: opening them runs alongside signalling, ICE and DTLS (tracks join when ready). */
  readonly local: () => Promise<MediaStream>
  readonly onCandidate: (c: IceCandidate) => void
  readonly onTransport: (state: 'connected' | 'disconnected' | 'failed') => void
  readonly onRemoteCertificate: (cert: { fingerprintAlgorithm: string; fingerprint: string }) => boolean
  readonly onRemoteStream: (stream: MediaStream) => void
  /** Test hook: rewrites the SDP we signal (not the one we use). */
  readonly tamperSdp?: (sdp: string) => string
  /** Test hook: changes the keys before the worker gets them. */
  readonly tamperKeys?: (keys: MediaKeys) => MediaKeys
}

export class PeerMedia implements CallMedia {
  readonly call: CallSnapshot
  readonly pc: RTCPeerConnection
  readonly remote = new MediaStream()
  readonly #hooks: PeerHooks
  readonly #transformed = new WeakSet<RTCRtpTransceiver>()
  #closed = false
  #verified = false

  constructor(call: CallSnapshot, hooks: PeerHooks) {
    this.call = call
    this.#hooks = hooks
    this.pc = new RTCPeerConnection(hooks.rtcConfig)
    this.pc.onicecandidate = (e) => {
      if (e.candidate !== null && e.candidate.candidate !== '') {
        const c = e.candidate.toJSON()
        hooks.onCandidate({
          candidate: c.candidate!,
          ...(c.sdpMid != null && { sdpMid: c.sdpMid }),
          ...(c.sdpMLineIndex != null && { sdpMLineIndex: c.sdpMLineIndex })
        })
      }
    }
    this.pc.ontrack = (e) => {
      if (!this.remote.getTracks().includes(e.track)) this.remote.addTrack(e.track)
      hooks.onRemoteStream(this.remote)
    }
    this.pc.onconnectionstatechange = () => void this.#state()
    this.pc.oniceconnectionstatechange = () => void this.#state()
  }

  async #state(): Promise<void> {
    if (this.#closed) return
    const s = this.pc.connectionState
    if (s === 'connected') {
      if (!this.#verified) {
        const cert = await this.remoteCertificate()
        // No certificate to check is a failure too: fail closed.
        if (cert === undefined || !this.#hooks.onRemoteCertificate(cert)) return
        this.#verified = true
      }
      this.#hooks.onTransport('connected')
    } else if (s === 'disconnected') {
      this.#hooks.onTransport('disconnected')
    } else if (s === 'failed') {
      this.#hooks.onTransport('failed')
    }
  }

  /** The DTLS certificate the peer presented (getStats: the transport's remote certificate). */
  async remoteCertificate(): Promise<{ fingerprintAlgorithm: string; fingerprint: string } | undefined> {
    const stats = await this.pc.getStats()
    let id: string | undefined
    stats.forEach((s: { type: string; remoteCertificateId?: string }) => {
      if (s.type === 'transport' && s.remoteCertificateId !== undefined) id = s.remoteCertificateId
    })
    const cert = id === undefined ? undefined : (stats.get(id) as { fingerprint: string; fingerprintAlgorithm: string })
    return cert && { fingerprintAlgorithm: cert.fingerprintAlgorithm, fingerprint: cert.fingerprint }
  }

  /** Puts every transceiver behind the SFrame worker; our tracks join them as soon as the devices are open. */
  #attach(): void {
    for (const kind of ['audio', 'video'] as const) {
      let t = this.pc.getTransceivers().find((x) => x.receiver.track.kind === kind && x.currentDirection !== 'stopped')
      if (t === undefined) t = this.pc.addTransceiver(kind, { direction: 'sendrecv' })
      else t.direction = 'sendrecv'
      if (!this.#transformed.has(t)) {
        const opts = (side: 'send' | 'receive') => ({ side, callId: this.call.id, kind })
        t.sender.transform = new RTCRtpScriptTransform(this.#hooks.worker, opts('send'))
        t.receiver.transform = new RTCRtpScriptTransform(this.#hooks.worker, opts('receive'))
        if (kind === 'video') preferVp8(t)
        this.#transformed.add(t)
      }
    }
    void this.#hooks.local().then(
      async (local) => {
        for (const kind of ['audio', 'video'] as const) {
          if (this.#closed) return
          await this.replace(kind, local.getTracks().find((x) => x.kind === kind) ?? null)
        }
      },
      () => this.#hooks.onTransport('failed')
    )
  }

  /** Replaces the track of one kind (mute by disabling; camera off or audio-only: null). */
  async replace(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    const t = this.pc.getTransceivers().find((x) => x.receiver.track.kind === kind && x.currentDirection !== 'stopped')
    await t?.sender.replaceTrack(track)
  }

  async #local(description: RTCSessionDescriptionInit): Promise<CallDescription> {
    await this.pc.setLocalDescription(description)
    // The test hook changes what is signalled, not what our DTLS stack uses: a peer that lies about its certificate.
    const sdp = this.#hooks.tamperSdp?.(this.pc.localDescription!.sdp) ?? this.pc.localDescription!.sdp
    return { sdp, fingerprints: sdpFingerprints(sdp) }
  }

  async createOffer(options: { restart: boolean }): Promise<CallDescription> {
    if (!options.restart) this.#attach()
    return this.#local(await this.pc.createOffer({ iceRestart: options.restart }))
  }

  async answer(offerSdp: string, options: { restart: boolean }): Promise<CallDescription> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp })
    if (!options.restart) this.#attach()
    const d = await this.#local(await this.pc.createAnswer())
    // An ICE restart may never change connectionState (the old path carries on): report where we are.
    if (options.restart) queueMicrotask(() => void this.#state())
    return d
  }

  async applyAnswer(answerSdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp })
    queueMicrotask(() => void this.#state())
  }

  async addCandidate(candidate: IceCandidate): Promise<void> {
    if (this.#closed) return
    await this.pc.addIceCandidate(candidate)
  }

  setKeys(given: MediaKeys): void {
    const keys = this.#hooks.tamperKeys?.(given) ?? given
    this.#hooks.worker.postMessage({
      type: 'keys',
      callId: this.call.id,
      send: keys.send,
      receive: keys.receive
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.pc.close()
    this.#hooks.worker.postMessage({ type: 'forget', callId: this.call.id })
  }
}

function preferVp8(t: RTCRtpTransceiver): void {
  const caps = RTCRtpReceiver.getCapabilities?.('video')
  if (caps === null || caps === undefined || typeof t.setCodecPreferences !== 'function') return
  const vp8 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/vp8')
  const rest = caps.codecs.filter((c) => /rtx|red|ulpfec/i.test(c.mimeType))
  if (vp8.length > 0) t.setCodecPreferences([...vp8, ...rest])
}
